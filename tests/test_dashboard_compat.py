"""The dashboard's patches of the HoloViz stack: each target still exists in the installed versions.

An upgrade that renames or removes a patched private attribute fails here, loudly and by name,
instead of silently making the served page slower or reaching for a CDN font.
"""

import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # apps/ is a folder of the checkout (installed: workbench_dashboard)
    sys.path.insert(0, str(ROOT))

from apps import compat  # noqa: E402


@pytest.mark.parametrize("patch", compat.PATCHES, ids=[p.name for p in compat.PATCHES])
def test_patch_target_exists_in_the_installed_version(patch):
    why = compat.skipped_reason(patch)
    assert why is None, (
        f"patch {patch.name!r} cannot apply: {why}. Upstream: {patch.upstream}. "
        "Re-check the behaviour, then update or drop the patch in apps/compat.py."
    )


def test_apply_is_idempotent_and_takes_effect():
    import holoviews as hv
    import panel as pn
    from panel.theme import Fast

    with warnings.catch_warnings():
        warnings.simplefilter("error", compat.CompatWarning)
        first = compat.apply()
        assert compat.apply() == first and all(first.values())
    assert pn.reactive.Syncable._debounce == 5
    assert Fast._resources["font"] == {}
    assert hv.Store.options(backend="bokeh")["Curve"].groups["norm"].kwargs["framewise"] is True
    assert hv.renderer("bokeh").webgl is False
    import panel.io.resources as resources

    assert resources._panel_use_mathjax([pn.pane.Markdown("x").get_root()]) is False


def test_the_page_holds_no_tex_so_it_needs_no_mathjax():
    """MathJax is left out of the page (a fifth of its first paint); no text on it may need it."""
    from bokeh.document import Document
    from bokeh.embed.util import contains_tex_string

    from apps.app import App

    app = App()
    header, sidebar, main = app.parts()
    doc = Document()
    import panel as pn

    texts = []
    for part in (*header, *sidebar, main, *[v for v in (app.spectrum, app.memory, app.tokens, app.runs)]):
        for model in pn.panel(part).get_root(doc).references():
            texts += [
                v for k in ("text", "title", "axis_label", "label") if isinstance(v := getattr(model, k, None), str)
            ]
    assert len(texts) > 50
    assert not [t for t in texts if contains_tex_string(t)]


def test_a_missing_target_is_skipped_with_a_warning(monkeypatch):
    gone = compat.Patch("gone", "panel", (99, 0), lambda: False, lambda: 1 / 0, "nothing")
    assert "missing" in compat.skipped_reason(gone)
    future = compat.Patch("future", "panel", (0, 1), lambda: True, lambda: 1 / 0, "nothing")
    assert "not checked" in compat.skipped_reason(future)
    monkeypatch.setattr(compat, "PATCHES", [gone])
    monkeypatch.setattr(compat, "_APPLIED", {})
    with pytest.warns(compat.CompatWarning, match="'gone' skipped"):
        assert compat.apply() == {"gone": False}


def test_in_place_balances_bokehs_freeze_count():
    from bokeh.document import Document

    compat.apply()
    doc = Document()
    with compat.in_place(doc):
        assert doc.models._freeze_count == 1 and "invalidate" in vars(doc.models)
    assert doc.models._freeze_count == 0 and "invalidate" not in vars(doc.models)


def test_in_place_recomputes_only_when_models_join_or_leave(monkeypatch):
    """Moving a model already in the document (HoloViews re-adding a legend) needs no recompute;
    a new model or a dropped one does, and the model set then matches a full recompute."""
    from bokeh.document import Document
    from bokeh.models import Legend
    from bokeh.plotting import figure

    compat.apply()
    doc = Document()
    fig = figure()
    legend = Legend()
    fig.add_layout(legend, "right")
    doc.add_root(fig)
    calls = []
    real = doc.models.recompute
    monkeypatch.setattr(doc.models, "recompute", lambda: calls.append(1) or real())
    with compat.in_place(doc):
        fig.add_layout(legend, "left")  # removed from `right`, added to `left`: the same model
    assert calls == [] and doc.get_model_by_id(legend.id) is legend
    with compat.in_place(doc):
        fig.add_layout(Legend(), "right")  # a new model joins
    assert len(calls) == 1
    with compat.in_place(doc):
        fig.left = []  # the first legend leaves
    assert len(calls) == 2 and doc.get_model_by_id(legend.id) is None
    ids = {m.id for m in doc.models}
    real()
    assert ids == {m.id for m in doc.models}


@pytest.mark.parametrize("serving", [True, False])
def test_a_served_page_never_points_its_stylesheets_at_the_cdn(monkeypatch, serving):
    """A model made before it joins a served document (no `dist_url` yet) gets its stylesheets
    from this server; outside a server (a notebook) Panel's own choice, the CDN, stands."""
    import panel as pn
    from bokeh.models import ImportedStyleSheet
    from panel.io.resources import CDN_DIST
    from panel.theme import Fast

    compat.apply()
    monkeypatch.setattr(compat, "_SERVING", serving)
    pane = pn.pane.Markdown("x", design=Fast)  # markdown.css, loading.css, the design's theme CSS
    root = pane.get_root()  # a fresh Document, without the template's dist_url
    urls = [str(s.url) for s in root.select({"type": ImportedStyleSheet})]
    assert any("markdown.css" in u for u in urls) and any("loading.css" in u for u in urls), urls
    on_cdn = [u for u in urls if u.startswith(CDN_DIST)]
    assert (not on_cdn) if serving else on_cdn, urls
