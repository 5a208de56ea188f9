"""apps.views.LTIPreview without a server: it follows the spec and survives invalid ones."""
from __future__ import annotations

import sys
from pathlib import Path

import holoviews as hv
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # apps/ is a folder of the repo, not an installed package
    sys.path.insert(0, str(ROOT))

from apps.views import LTIPreview  # noqa: E402
from workbench.specs import SSMSpec  # noqa: E402


@pytest.fixture
def view():
    return LTIPreview(SSMSpec(d_state=16), d_model=8, length=128)


def _dmaps(view):
    """The three DynamicMaps of a rendered layout: kernels, poles, eigenvalues."""
    layout = view.__panel__()
    return layout[1].object, layout[2][0].object, layout[2][1].object


def _curve(fig, label):
    return next(el for el in fig if isinstance(el, hv.Curve) and el.label == label)


def test_initial_data(view):
    assert view.error == "" and not view._alert.visible
    assert view.kernels.K.shape == (8, 128)
    assert view.spectrum.sizes == {"channel": 8, "mode": 8}
    assert view.kernels.attrs["init"] == "s4d-lin"


def test_init_change_redraws_kernels(view):
    kernels, poles, _ = _dmaps(view)
    old = view.kernels.K.values.copy()
    view.spec.init = "s4d-inv"
    assert view.kernels.attrs["init"] == "s4d-inv"
    assert not np.allclose(view.kernels.K.values, old)
    # the DynamicMaps get the new data through their Pipe
    np.testing.assert_array_equal(_curve(kernels[()], "channel 0").dimension_values("K"),
                                  view.kernels.K.sel(channel=0).values)
    pts = next(el for el in poles[()] if isinstance(el, hv.Points))
    np.testing.assert_allclose(np.sort(pts.dimension_values("pole_imag")),
                               np.sort(view.spectrum.pole_imag.values.ravel()))


def test_invalid_spec_shows_message_and_keeps_data(view):
    kernels, spectrum = view.kernels, view.spectrum
    view.spec.dt_min = 0.5  # > dt_max: rejected by SSMSpec.validate
    assert view.error.startswith("ssm.dt_min=0.5 is not allowed")
    assert "\n" not in view.error
    assert view._alert.visible and view._alert.object == view.error
    assert view.kernels is kernels and view.spectrum is spectrum
    view.spec.dt_min = 0.01  # valid again: message gone, new data
    assert view.error == "" and not view._alert.visible
    assert view.kernels is not kernels


def test_error_raised_while_building_the_layer(view):
    kernels = view.kernels
    view.spec.param.update(init="s4d-real", a_reparam="best")  # valid fields, impossible pair
    assert view.error.startswith("ssm.a_reparam='best' is not allowed")
    assert view.kernels is kernels


def test_invalid_initial_spec_draws_defaults_under_the_message():
    view = LTIPreview(SSMSpec(init="s4d-real", a_reparam="best"), d_model=4, length=32)
    assert view.error.startswith("ssm.a_reparam='best'") and view._alert.visible
    assert view.kernels.attrs["init"] == "s4d-lin"  # SSMSpec() defaults
    assert view.spec.init == "s4d-real"  # the user's spec is left as given
    view.spec.a_reparam = "exp"
    assert view.error == "" and view.kernels.attrs["init"] == "s4d-real"


def test_log_abs_and_size_changes(view):
    kernels, _, _ = _dmaps(view)
    view.log_abs = True
    np.testing.assert_allclose(_curve(kernels[()], "channel 0").dimension_values("K"),
                               np.log10(np.abs(view.kernels.K.sel(channel=0).values)))
    view.param.update(d_model=4, length=32)
    assert view.kernels.K.shape == (4, 32)


def test_create_app_widgets_drive_the_spec():
    import panel as pn
    from apps.dashboard import create_app

    view = LTIPreview(SSMSpec(d_state=16), d_model=8, length=128)
    app = create_app(view)
    assert isinstance(app, pn.template.FastListTemplate)
    spec_widgets = app.sidebar[0][0]
    assert "learn_a" not in spec_widgets._widgets  # training-only fields are not in the preview
    old = view.kernels
    spec_widgets._widgets["init"].value = "s4d-inv"
    assert view.spec.init == "s4d-inv" and view.kernels is not old
