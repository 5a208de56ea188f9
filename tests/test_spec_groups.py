"""The spec fields' metadata: every field has a group and shows somewhere; which layer reads which
field is checked against the layers' constructors themselves (a recording spec), not restated."""

import pytest

from workbench import spec_groups as sg
from workbench.specs import LAYERS, ModelSpec, SSMSpec, TaskSpec
from workbench.ssm.mixers import MIXERS


class Recording:
    """A spec that records which fields a constructor reads."""

    def __init__(self, spec):
        self._spec, self.read = spec, set()

    def __getattr__(self, name):
        if name in type(self._spec).param:
            self.read.add(name)
        return getattr(self._spec, name)


def test_every_field_has_a_group_and_is_relevant_somewhere():
    for part, cls in sg.PARTS.items():
        for f in sg.fields(part):
            assert sg.group_of(part, f) in sg.GROUP_ORDER
            assert any(
                sg.relevant(part, f, layer, task, init)
                for layer in LAYERS
                for task in TaskSpec.KINDS
                for init in sg.CONDITIONS["init"]
            ), f"{part}.{f} never shows"
    listed = [f for _, part, names in sg.groups() for f in names]
    assert len(listed) == sum(len(sg.fields(p)) for p in sg.PARTS)  # every field, once


def test_metadata_names_real_fields_and_values():
    for part, f in sg.RELEVANT:
        assert f in sg.PARTS[part].param, f"{part}.{f}"
        for conds in sg.alternatives(part, f):
            for key, allowed in conds.items():
                assert set(allowed) <= set(sg.CONDITIONS[key]), (part, f, key)
    for part, f in [*sg.GROUP, *sg.DERIVED]:
        assert f in sg.PARTS[part].param


@pytest.mark.parametrize("layer", sorted(MIXERS))
def test_fields_read_by_a_layer_are_the_relevant_ones(layer):
    """Build each layer kind with recording specs: the SSM and model fields it reads are exactly those
    the metadata calls relevant for it (s4d hands its whole SSMSpec to build_layer)."""
    model = Recording(ModelSpec(layer=layer, d_model=8, heads=2))
    ssm = Recording(SSMSpec(d_state=4, init="s4d-real" if layer in ("mamba", "mamba2", "mega-ema") else "s4d-lin"))
    MIXERS[layer](model, ssm, seed=0)
    model_specific = {f for (part, f) in sg.RELEVANT if part == "model"}
    assert model.read & model_specific == {
        f for f in model_specific if sg.relevant("model", f, layer, "adding", "s4d-lin")
    }
    if layer == "s4d":  # build_layer reads the whole SSMSpec (through replace)
        return
    for init in ("s4d-lin", "lru-ring", "ptd-legs"):
        shown = {f for f in sg.fields("ssm") if sg.relevant("ssm", f, layer, "adding", init)} - {"seed"}
        assert shown <= ssm.read | set(), (layer, init, shown - ssm.read)
    assert ssm.read - {"seed"} == {
        f
        for f in sg.fields("ssm")
        if f != "seed" and any(sg.relevant("ssm", f, layer, "adding", i) for i in sg.CONDITIONS["init"])
    }


def test_groups_narrow_to_the_chosen_layer_and_task():
    mamba = {g: names for g, _, names in sg.groups("mamba", "mqar", "s4d-real")}
    assert "gate" in mamba["Gating"] and "num_kv" in mamba["Task"] and "noise_len" not in mamba["Task"]
    attention = {g: names for g, _, names in sg.groups("attention", "adding", "s4d-lin")}
    assert attention["SSM"] == ["seed"] and "heads" in attention["Model"] and "gate" not in attention.get("Gating", [])
    assert "r_min" in dict((g, n) for g, _, n in sg.groups("lru", "adding", "lru-ring"))["SSM"]
