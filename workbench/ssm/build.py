"""`build_layer(spec, d_model)`: the bridge from an SSMSpec to a layer."""

from __future__ import annotations

from workbench.specs import SSMSpec
from workbench.ssm.lti import DenseSSM, DiagonalSSM


def build_layer(spec: SSMSpec, d_model: int):
    spec.validate()
    common = dict(
        d_model=d_model,
        d_state=spec.d_state,
        init=spec.init,
        dt_min=spec.dt_min,
        dt_max=spec.dt_max,
        dt_transform=spec.dt_transform,
        discretization=spec.discretization,
        learn_a=spec.learn_a,
        learn_dt=spec.learn_dt,
        ssm_lr=spec.ssm_lr,
        seed=spec.seed,
    )
    if spec.is_dense:
        layer = DenseSSM(**common)
    else:
        layer = DiagonalSSM(
            **common,
            a_reparam=spec.a_reparam,
            r_min=spec.r_min,
            r_max=spec.r_max,
            max_phase=spec.max_phase,
            ptd_eps=spec.ptd_eps,
        )
    layer.spec_json = spec.to_json()
    return layer
