"""Kernels, spectra and frequency responses of every layer of a model (the S4D kernel, Gu et al. 2022; frequency response as the kernel's DTFT)."""

from __future__ import annotations

import math

import numpy as np
import torch
import xarray as xr

from workbench.analysis.walk import layer_modes, lti_core, mixer_inputs, mixers, model_attrs, need
from workbench.ssm.hidden_attention import impulse_response
from workbench.ssm.mamba import Mamba


@torch.no_grad()
def kernels(model, length: int, inputs: torch.Tensor | None = None) -> xr.Dataset:
    """K (layer, channel, lag). LTI layers: the convolution kernel (D excluded). Selective (Mamba)
    layers, given `inputs`: the impulse response at the SSM on sample 0, K[ℓ] = α[ℓ, 0]."""
    ms, Ks, idx = mixers(model), [], []
    xs = mixer_inputs(model, inputs[:, :length]) if inputs is not None else None
    for i, m in enumerate(ms):
        core, modes = lti_core(m), layer_modes(m)
        if core is not None:
            K = core.kernel(length)
        elif modes is not None and modes.CB is not None:
            from workbench.ssm.kernel import vandermonde_kernel

            K = vandermonde_kernel(modes.CB, modes.A_bar, length, modes.c == 2.0)
        elif isinstance(m, Mamba) and xs is not None:
            K = impulse_response(m, xs[i][:1])[0]  # (E, L): response at every target to a source at 0
        else:
            continue
        Ks.append(K.double().cpu().numpy())
        idx.append(i)
    need(Ks, "kernels", "LTI (s4d, mega-ema, lru) or, with inputs, mamba", model)
    K = np.stack(Ks)  # (layers, C, L)
    return xr.Dataset(
        {"K": (("layer", "channel", "lag"), K, {"long_name": "kernel K[ℓ]"})},
        coords={
            "layer": idx,
            "channel": np.arange(K.shape[1]),
            "lag": ("lag", np.arange(K.shape[2]), {"units": "steps"}),
        },
        attrs=model_attrs(model, selective=int(inputs is not None and lti_core(ms[0]) is None)),
    )


@torch.no_grad()
def spectrum(model) -> xr.Dataset:
    """Per (layer, channel, mode): continuous A, poles Ā, |Ā| and half-lives t½ = ln 2/(Δ|Re A|).
    Selective layers are shown at rest (Δ for a zero input)."""
    found = [(i, layer_modes(m)) for i, m in enumerate(mixers(model))]
    found = [(i, md) for i, md in found if md is not None]
    need(found, "spectrum", "SSM", model)
    dim = found[0][1].channel_dim
    A = np.stack([md.A.numpy() for _, md in found])  # (layers, C, M)
    Ab = np.stack([md.A_bar.numpy() for _, md in found])
    dt = np.stack([md.dt.numpy() for _, md in found])  # (layers, C)
    half = math.log(2) / (dt[..., None] * np.abs(A.real))
    v = lambda x, name, **a: ((("layer", dim, "mode"), x, {"long_name": name, **a}))
    return xr.Dataset(
        {
            "A_real": v(A.real, "Re A"),
            "A_imag": v(A.imag, "Im A"),
            "pole_real": v(Ab.real, "Re Ā"),
            "pole_imag": v(Ab.imag, "Im Ā"),
            "pole_abs": v(np.abs(Ab), "|Ā|"),
            "half_life": v(half, "t½", units="steps"),
            "dt": (("layer", dim), dt, {"long_name": "Δ"}),
        },
        coords={"layer": [i for i, _ in found], dim: np.arange(A.shape[1]), "mode": np.arange(A.shape[2])},
        attrs=model_attrs(model, conjugate_pairs=int(found[0][1].c == 2.0), unstable_modes=int((np.abs(Ab) > 1).sum())),
    )


@torch.no_grad()
def frequency_response(model, n_freq: int | None = None, length: int | None = None) -> xr.Dataset:
    """H(e^{iω}) = Σ_ℓ K[ℓ] e^{-iωℓ} on ω ∈ [0, π].

    With `length` and the FFT grid (n_freq None or L//2 + 1): the rFFT of the length-L kernels
    (fast path, what the preview uses). Otherwise the closed form per mode,
    `frequency_response_closed_form`, which is also the reference the fast path is tested against.
    """
    if length is not None and n_freq in (None, length // 2 + 1):
        return response_from_kernels(model, kernels(model, length))
    return frequency_response_closed_form(model, n_freq or 257, length)


def response_from_kernels(model, ds: xr.Dataset) -> xr.Dataset:
    """The frequency response on the rFFT grid from an already computed `kernels` Dataset."""
    L = ds.sizes["lag"]
    H = np.fft.rfft(ds.K.values, axis=-1)
    return _response_dataset(model, H, ds.layer.values, 2 * np.pi * np.arange(H.shape[-1]) / L, L)


@torch.no_grad()
def frequency_response_closed_form(model, n_freq: int = 257, length: int | None = None) -> xr.Dataset:
    """Σ_{ℓ<L} (Āz)^ℓ summed in closed form per mode (L = ∞ when length is None)."""
    omega = torch.linspace(0, math.pi, n_freq, dtype=torch.float64)
    z = torch.exp(-1j * omega)  # (F,)
    Hs, idx = [], []
    for i, m in enumerate(mixers(model)):
        core = lti_core(m)
        if core is not None and core.materialize().dense:
            p = core.materialize()
            if length is not None:  # exact DFT of the finite kernel: no (I - Āz) solve to go singular
                Hs.append(
                    core.kernel(length).double().to(torch.complex128)
                    @ z[None, :] ** torch.arange(length, dtype=torch.float64)[:, None]
                )
            else:
                Hs.append(_dense_response(p, z))
        else:
            md = layer_modes(m)
            if md is None or md.CB is None:
                continue
            g = lambda a: _geometric(a, z, length)  # (C, M, F)
            H = 0.5 * md.c * (md.CB[..., None] * g(md.A_bar) + md.CB.conj()[..., None] * g(md.A_bar.conj())).sum(1)
            Hs.append(H)
        idx.append(i)
    need(Hs, "frequency_response", "LTI (s4d, mega-ema, lru)", model)
    return _response_dataset(model, torch.stack(Hs).numpy(), idx, omega.numpy(), length)


def _response_dataset(model, H, layers, omega, length) -> xr.Dataset:
    """H (layers, C, F) complex on ω (F,) -> Dataset with gain and phase."""
    dims = ("layer", "channel", "frequency")
    return xr.Dataset(
        {
            "H_real": (dims, H.real),
            "H_imag": (dims, H.imag),
            "gain": (dims, np.abs(H), {"long_name": "|H(e^{iω})|"}),
            "phase": (dims, np.angle(H), {"long_name": "arg H", "units": "rad"}),
        },
        coords={
            "layer": list(layers),
            "channel": np.arange(H.shape[1]),
            "frequency": ("frequency", omega, {"long_name": "ω", "units": "rad/step"}),
        },
        attrs=model_attrs(model, length=-1 if length is None else length),
    )


def _geometric(a: torch.Tensor, z: torch.Tensor, length: int | None) -> torch.Tensor:
    """Σ_{ℓ<L} (az)^ℓ = (1 - a^L z^L)/(1 - az), or 1/(1 - az) for L = ∞. a (C, M), z (F,) -> (C, M, F).

    a^L and z^L are taken once each rather than a complex power per (mode, frequency)."""
    denom = 1 - a[..., None] * z
    if length is None:
        return 1 / denom
    return (1 - (a**length)[..., None] * z**length) / denom


def _dense_response(p, z):
    """C (I - Āz)⁻¹ B̄ for full matrices; NaN where I - Āz is singular (a marginal mode at that ω)."""
    A = p.A_bar.detach().to(torch.complex128)  # (H, N, N)
    eye = torch.eye(A.shape[-1], dtype=A.dtype)
    Az = A[:, None] * z[None, :, None, None]  # (H, F, N, N)
    rhs = p.B_bar.detach().to(A.dtype)[:, None, :, None].expand(-1, z.shape[0], -1, -1)
    x, info = torch.linalg.solve_ex(eye - Az, rhs)
    H = (p.C.detach().to(A.dtype)[:, None, :] * x[..., 0]).sum(-1)  # (H, F)
    return torch.where(info == 0, H, torch.full_like(H, float("nan")))
