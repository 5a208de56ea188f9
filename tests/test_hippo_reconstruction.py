"""HiPPO online reconstruction (HiPPO, Gu et al. 2020, Appendix D): error falls with N; closed forms hold."""

import numpy as np
import pytest
import torch

from workbench.analysis.hippo_reconstruction import hippo_reconstruction
from workbench.errors import SpecError

L = 2000
T = np.arange(1, L + 1) / L  # sample times t_k = (k+1)/L


def band_limited(seed=0):
    """Sum of 10 sinusoids, frequencies in [0.5, 8) cycles per unit interval, random phases."""
    rng = np.random.default_rng(seed)
    freq, phase, amp = rng.uniform(0.5, 8, 10), rng.uniform(0, 2 * np.pi, 10), rng.normal(size=10)
    return (amp[:, None] * np.sin(2 * np.pi * freq[:, None] * T + phase[:, None])).sum(0)


# measured at seed 0, L 2000: legt 0.81, 3.1e-3, 3.9e-4; legs 0.66, 1.8e-4, 1.5e-4
@pytest.mark.parametrize("measure,bound", [("legt", 5e-3), ("legs", 2e-3)])
def test_error_falls_with_state_size(measure, bound):
    ds = hippo_reconstruction(measure, [16, 64, 256], band_limited(), theta=1.0)
    err = ds.error.values
    assert ds.error.dims == ("d_state",) and list(ds.d_state.values) == [16, 64, 256]
    assert ds.reconstruction.dims == ("d_state", "time") and ds.reconstruction.dtype == np.float64
    assert err[0] > err[1] > err[2], err
    assert err[2] < bound, err
    assert ds.time.values[0] == pytest.approx(0.0) and ds.time.values[-1] == pytest.approx(1.0)


def test_fout_error_falls_with_state_size():
    # FouT converges slowly (the window's periodic extension jumps: Gibbs); measured 0.28, 0.057, 0.024
    err = hippo_reconstruction("fout", [15, 63, 255], band_limited(), theta=1.0).error.values
    assert err[0] > err[1] > err[2] and err[2] < 0.05, err


@pytest.mark.parametrize("measure", ["legt", "legs", "fout"])
@pytest.mark.parametrize("N", [1, 6])
def test_constant_is_exact(measure, N):
    # A e_0 + B = 0 for all three: the constant is a fixed point that the discretization must keep
    ds = hippo_reconstruction(measure, N, torch.full((500,), 3.0), theta=0.5, n_eval=64)
    np.testing.assert_allclose(ds.reconstruction.values, 3.0, atol=1e-11)
    assert ds.error.values.max() < 1e-12 and ds.sizes["d_state"] == 1


def test_legt_ramp_is_exact():
    # A degree-1 polynomial lies in the span of N >= 2 Legendre modes and first-order hold is exact
    # for it, so only the start-up transient (constant history before t_0) is left; after three
    # windows it has decayed to ~4e-12 at N = 16. A wrong orientation or window scale gives O(1).
    ds = hippo_reconstruction("legt", 16, 1 + 2 * T, theta=0.25)
    np.testing.assert_allclose(ds.reconstruction.values[0], 1 + 2 * ds.time.values, atol=1e-10)
    assert ds.time.values[0] == pytest.approx(0.75)


def test_bad_arguments():
    with pytest.raises(SpecError) as e:
        hippo_reconstruction("lagt", 8, band_limited())
    assert e.value.field == "measure" and "measure" in str(e.value)
    with pytest.raises(SpecError, match="N="):
        hippo_reconstruction("legt", 0, band_limited())
    with pytest.raises(SpecError, match="theta="):
        hippo_reconstruction("legt", 8, band_limited(), theta=1.5)
