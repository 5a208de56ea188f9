"""The spec editor is generated from the specs: every field has a widget, and only the relevant ones show."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # apps/ is a folder of the checkout (installed: workbench_dashboard)
    sys.path.insert(0, str(ROOT))

import panel as pn  # noqa: E402
import pytest  # noqa: E402

from apps.views.editor import spec_editor  # noqa: E402
from apps.views.state import Workbench  # noqa: E402
from workbench import spec_groups as sg  # noqa: E402
from workbench.specs import ModelSpec, TaskSpec  # noqa: E402


def shown(editor) -> dict:
    return {c.title: list(c.objects[0].parameters) for c in editor[1:] if c.visible}


@pytest.mark.slow  # previews redrawn for every layer and task switch
def test_editor_follows_layer_task_and_init():
    state = Workbench(
        model=ModelSpec(d_model=8, n_layers=1), task=TaskSpec(kind="selective-copying", noise_len=8, n_data=2)
    )
    editor = spec_editor(state)
    assert "gate" not in shown(editor)["Gating"] and "noise_len" in shown(editor)["Task"]
    state.model.layer = "mamba"
    state.task.kind = "mqar"
    now = shown(editor)
    assert {"gate", "selective_delta", "d_conv"} <= set(now["Gating"]) and "num_kv" in now["Task"]
    assert "noise_len" not in now["Task"] and "r_min" not in now["SSM"]
    assert now == {g: n for g, _, n in sg.groups("mamba", "mqar", state.ssm.init) if n}
    state.model.layer = "s4d"
    state.ssm.init = "lru-ring"
    assert {"r_min", "r_max", "max_phase"} <= set(shown(editor)["SSM"])


def test_widgets_are_typed_from_the_parameters():
    state = Workbench(
        model=ModelSpec(d_model=8, n_layers=1), task=TaskSpec(kind="selective-copying", noise_len=8, n_data=2)
    )
    editor = spec_editor(state)
    ssm = editor[1].objects[0]._widgets
    assert isinstance(ssm["d_state"], pn.widgets.IntInput) and isinstance(ssm["dt_min"], pn.widgets.FloatInput)
    ssm["dt_min"].value = 2e-3
    assert state.ssm.dt_min == 2e-3
