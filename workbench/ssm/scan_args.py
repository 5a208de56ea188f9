"""The boundary of `selective_scan`: mamba_ssm's layouts of B and C in, one internal layout out.

mamba_ssm's `selective_scan_fn` (Gu & Dao 2023) takes B and C as
    (D, N)             constant per channel (complex when A is)
    (batch, N, L)      input-dependent, shared by the D channels
    (batch, G, N, L)   input-dependent per group: channel d reads group d // (D/G)
and, when A is complex, the input-dependent forms are real with last dim 2L: real and imaginary
parts interleaved per step, [Re B₀, Im B₀, Re B₁, Im B₁, ...]. The workbench also accepts the
complex tensor (..., L) itself. `canonical` maps all of these to (D, N) or (batch, G, N, L) in the
dtype of A's arithmetic (complex when A is); `for_mamba_ssm` maps back to the real interleaved form
the CUDA kernel expects, so a complex tensor never reaches it.
"""

from __future__ import annotations

import torch

from workbench.errors import SpecError


def _describe(X: torch.Tensor) -> str:
    return f"shape {tuple(X.shape)} {str(X.dtype).removeprefix('torch.')}"


def interleave(X: torch.Tensor) -> torch.Tensor:
    """Complex (..., L) -> real (..., 2L) as [Re₀, Im₀, Re₁, Im₁, ...]."""
    return torch.view_as_real(X).flatten(-2)


def deinterleave(X: torch.Tensor) -> torch.Tensor:
    """Real (..., 2L) [Re₀, Im₀, Re₁, ...] -> complex (..., L)."""
    if X.dtype not in (torch.float32, torch.float64):
        X = X.float()  # view_as_complex needs float or double parts
    return torch.view_as_complex(X.unflatten(-1, (-1, 2)).contiguous())


def canonical(name: str, X: torch.Tensor, u: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """B or C as (D, N) or (batch, G, N, L), complex exactly when A is; a SpecError names any other layout."""
    (batch, D, L), N = u.shape, A.shape[1]
    cplx = A.is_complex()
    field = f"selective_scan.{name}"
    forms = f"(D, N) = ({D}, {N}), (batch, N, L) = ({batch}, {N}, {L}) or (batch, G, N, L) with G dividing {D}" + (
        f"; with complex A complex, or real with last dim 2L = {2 * L} (mamba_ssm's interleaved form)"
        if cplx
        else "; real, as A is"
    )
    if X.is_complex() and not cplx:
        raise SpecError(field, _describe(X), forms)
    if X.dim() == 2:
        if tuple(X.shape) != (D, N):
            raise SpecError(field, _describe(X), forms)
        return X.to(A.dtype) if cplx else X
    if X.dim() == 3:
        X = X[:, None]  # (batch, 1, N, L|2L)
    if X.dim() != 4:
        raise SpecError(field, _describe(X), forms)
    b, G, n, length = X.shape
    interleaved = cplx and not X.is_complex()
    if b != batch or n != N or G < 1 or D % G or length != (2 * L if interleaved else L):
        raise SpecError(field, _describe(X), forms)
    return deinterleave(X) if interleaved else X


def per_channel(X: torch.Tensor, D: int) -> torch.Tensor:
    """(batch, G, N, L) -> (batch, N, L) when G = 1, else (batch, D, N, L) with channel d on group d // (D/G)."""
    if X.dim() == 2:
        return X
    G = X.shape[1]
    return X[:, 0] if G == 1 else X.repeat_interleave(D // G, dim=1)


def for_mamba_ssm(X: torch.Tensor) -> torch.Tensor:
    """A canonical B or C in mamba_ssm's own form: input-dependent complex becomes real interleaved."""
    if X.dim() == 4 and X.is_complex():
        X = interleave(X)
    if X.dim() == 4 and X.shape[1] == 1:
        X = X[:, 0]  # (batch, N, L|2L): its most common form
    return X.contiguous()
