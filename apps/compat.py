"""Every patch the dashboard makes to the HoloViz stack's private API or global state, in one place.

Each patch names the package versions it was checked against and the upstream behaviour that
would make it unnecessary. A patch applies only when its target still exists and the installed
version is below `untested_from`; otherwise it is skipped with a `CompatWarning` (the page still
works, a little slower or with a CDN font link), and tests/test_dashboard_compat.py fails, so an
upgrade that removes or renames a patched attribute is noticed at once, not in production.

Nothing happens at import: `apply()` (idempotent) is called by the app and by each probe view;
`offline_resources()` by every session of the app.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import bokeh
import holoviews as hv
import panel as pn


class CompatWarning(UserWarning):
    """A patch of the HoloViz stack was skipped: its target moved, or the version is untested."""


def version(text: str) -> tuple[int, int]:
    major, minor = (text.split(".") + ["0"])[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


@dataclass(frozen=True)
class Patch:
    name: str
    package: str  # whose version gates it
    untested_from: tuple[int, int]  # the first (major, minor) nobody checked the patch against
    target: Callable[[], bool]  # True when the patched attribute exists as expected
    apply: Callable[[], None]
    upstream: str  # the upstream behaviour whose change would remove the patch


VERSIONS = {"panel": pn.__version__, "bokeh": bokeh.__version__, "holoviews": hv.__version__}

# ---- Panel ---------------------------------------------------------------------------------------


def _debounce_exists() -> bool:
    return isinstance(getattr(pn.reactive.Syncable, "_debounce", None), int)


def _debounce() -> None:
    # Panel waits _debounce ms (50) after a browser change before handling it, to batch bursts; a knob's
    # answer is the point of this page, and sliders already send only on release (value_throttled).
    pn.reactive.Syncable._debounce = 5


def _fast_font_exists() -> bool:
    from panel.theme import Fast

    return isinstance(getattr(Fast, "_resources", None), dict) and "font" in Fast._resources


def _fast_font() -> None:
    # The Fast design links Google Fonts whatever `inline` says, from both the template and
    # `config.design` (the class), so drop it on the class; a subclass would break Panel's class-name
    # based resource paths. The page falls back to the system's sans-serif.
    from panel.theme import Fast

    Fast._resources = {**Fast._resources, "font": {}}


def _mathjax_check_exists() -> bool:
    import panel.io.resources as resources

    return callable(getattr(resources, "_panel_use_mathjax", None))


def _no_mathjax() -> None:
    # Panel ships Bokeh's 1.8 MB MathJax bundle with any page holding a Markdown or HTML pane, TeX or
    # not; parsing it is a fifth of the time to first paint on 2 cores. The dashboard's texts hold no
    # TeX (a test checks), and Bokeh still adds the bundle for a model whose text does.
    import panel.io.resources as resources

    resources._panel_use_mathjax = lambda roots: False


# ---- HoloViews (global options) ------------------------------------------------------------------

# A DynamicMap keeps its first axis ranges unless its elements are framewise; set once for every
# element type the builders make (per element, `.opts(clone=True)` costs ~20 ms a figure).
FRAMEWISE = ["Curve", "Histogram", "Image", "Path", "Points", "Scatter", "Segments"]


def _holoviews_options_exist() -> bool:
    import holoviews.plotting.bokeh  # noqa: F401  registers the Bokeh option tree

    return all(t in hv.Store.options(backend="bokeh") for t in FRAMEWISE) and hasattr(hv.renderer("bokeh"), "webgl")


def _holoviews_options() -> None:
    import holoviews.plotting.bokeh  # noqa: F401

    for t in FRAMEWISE:
        hv.Store.options(backend="bokeh")[t] = hv.Options("norm", framewise=True)
    # Canvas, not WebGL (HoloViews' default): the figures are small, and in a browser without a GPU
    # WebGL is emulated on the CPU, where it took ~0.7 of a core redrawing two live curves a second.
    hv.renderer("bokeh").webgl = False


# ---- Bokeh ---------------------------------------------------------------------------------------


def _freeze_exists() -> bool:
    from bokeh.document import Document
    from bokeh.model import Model, model as model_module

    models = Document().models
    return (
        isinstance(getattr(models, "_freeze_count", None), int)
        and callable(getattr(models, "invalidate", None))
        and callable(getattr(model_module, "visit_value_and_its_immediate_references", None))
        and callable(getattr(Model, "trigger", None))
    )


def _note_references() -> None:
    # Inside `in_place`, each property change that references models also notes which models its
    # old and new values reference, so the end of the block can tell a graph that really changed
    # from one whose models were only moved (HoloViews re-adds the same legend to `figure.right`
    # on every update: ~0.1 s of recompute per knob at ~1700 models, for nothing).
    from bokeh.model import Model, model as model_module

    trigger = Model.trigger

    def noting(self, attr, old, new, hint=None, setter=None):
        seen = getattr(self._document.models, "_wb_seen", None) if self._document is not None else None
        if seen is not None and hint is None:
            model_module.visit_value_and_its_immediate_references(old, seen[0].append)
            model_module.visit_value_and_its_immediate_references(new, seen[1].append)
        return trigger(self, attr, old, new, hint=hint, setter=setter)

    Model.trigger = noting


@contextmanager
def in_place(doc=None):
    """Plot updates that only send new data: recompute Bokeh's model graph only if they changed it.

    HoloViews freezes the document around every plot update and Bokeh recomputes the whole model
    graph when the outermost freeze ends (~110 ms at the dashboard's ~1700 models, per figure), yet
    new source data adds no model. Outside a freeze Bokeh recomputes only when a property change
    references models (`Model.trigger` calls `invalidate`); this outer freeze keeps that rule, and
    skips it when the changes only moved models already in the document (none new, none dropped)."""
    doc = doc if doc is not None else pn.state.curdoc
    models = getattr(doc, "models", None)
    if (
        not _APPLIED.get("bokeh-freeze")
        or models is None
        or not hasattr(models, "_freeze_count")
        or "invalidate" in vars(models)
    ):
        yield  # not served, a Bokeh without these internals, or nested in ourselves
        return
    changed = []
    models.invalidate = lambda: changed.append(True)
    models._wb_seen = old, new = [], []  # models the changes' old and new values referenced
    models._freeze_count += 1
    try:
        yield
    finally:
        models._freeze_count -= 1
        del models.invalidate, models._wb_seen
        kept = {id(m) for m in new}
        moved_only = all(m.document is doc for m in new) and all(id(m) in kept for m in old)
        if changed and not moved_only:
            models.invalidate()


def _stylesheet_patch_exists() -> bool:
    import panel.io.resources as resources
    import panel.reactive as reactive

    return all(callable(getattr(m, "patch_stylesheet", None)) for m in (resources, reactive)) and all(
        isinstance(getattr(resources, k, None), str) for k in ("CDN_DIST", "LOCAL_DIST")
    )


def _no_cdn_stylesheets() -> None:
    # Panel points a component's stylesheets at its document's `dist_url`, and at the CDN when the
    # model has no document yet (a model made before it joins the page). Its imported stylesheets
    # are shared between models through class-level caches, so one such call can re-point a
    # stylesheet every open page uses to the CDN (seen under load: loading.css, markdown.css and the
    # theme's CSS requested from Panel's CDN). This server has Panel's files: they come from here.
    import panel.io.resources as resources
    import panel.reactive as reactive

    # Only in a process that serves the dashboard: a notebook's Panel output keeps Panel's own choice.
    original, use_cdn = resources.patch_stylesheet, resources.use_cdn

    def patch_stylesheet(stylesheet, dist_url):
        local = _SERVING and dist_url == resources.CDN_DIST
        return original(stylesheet, resources.LOCAL_DIST if local else dist_url)

    resources.patch_stylesheet = reactive.patch_stylesheet = patch_stylesheet
    resources.use_cdn = lambda: False if _SERVING else use_cdn()  # get_dist_path: loading.css too


_SERVING = False


def serving() -> None:
    """This process serves the dashboard: its pages take Panel's files from this server only."""
    global _SERVING
    _SERVING = True


PATCHES = [
    Patch(
        "panel-debounce",
        "panel",
        (2, 0),
        _debounce_exists,
        _debounce,
        "Panel's fixed 50 ms debounce of browser events (`Syncable._debounce`); a public setting for it "
        "would replace this",
    ),
    Patch(
        "fast-font",
        "panel",
        (2, 0),
        _fast_font_exists,
        _fast_font,
        "Panel's Fast design linking Google Fonts even with `inline=True`; honouring `inline` for design "
        "fonts would remove this",
    ),
    Patch(
        "no-mathjax",
        "panel",
        (2, 0),
        _mathjax_check_exists,
        _no_mathjax,
        "Panel adding Bokeh's MathJax bundle to every page with an HTML or Markdown pane "
        "(`panel.io.resources._panel_use_mathjax`); loading it only for TeX content would remove this",
    ),
    Patch(
        "no-cdn-stylesheets",
        "panel",
        (2, 0),
        _stylesheet_patch_exists,
        _no_cdn_stylesheets,
        "Panel resolving a model's stylesheets to its CDN when the model has no document "
        "(`panel.io.resources.patch_stylesheet` with `CDN_DIST`, `use_cdn`); resolving them when the "
        "model joins a served document would remove this",
    ),
    Patch(
        "holoviews-options",
        "holoviews",
        (2, 0),
        _holoviews_options_exist,
        _holoviews_options,
        "HoloViews' DynamicMap keeping its first ranges unless elements are framewise, and WebGL by default "
        "in the Bokeh renderer; per-plot defaults in a session-scoped theme would replace the global ones",
    ),
    Patch(
        "bokeh-freeze",
        "bokeh",
        (4, 0),
        _freeze_exists,
        _note_references,
        "Bokeh recomputing the whole model graph when the outermost `freeze` ends (`DocumentModelManager."
        "_freeze_count`, `invalidate`) and whenever a property that references models is set "
        "(`Model.trigger`); an incremental recompute would make `in_place` unnecessary",
    ),
]
_APPLIED: dict[str, bool] = {}


def skipped_reason(patch: Patch) -> str | None:
    """Why `patch` cannot apply here, or None when it can."""
    have = VERSIONS[patch.package]
    if version(have) >= patch.untested_from:
        return f"{patch.package} {have} is at or above {'.'.join(map(str, patch.untested_from))}, which it was not checked on"
    if not patch.target():
        return f"its target is missing in {patch.package} {have}"
    return None


def offline_resources() -> None:
    """BokehJS, Panel and HoloViews resources inline or from this server, never a CDN (every session)."""
    pn.extension("tabulator", inline=True)
    hv.extension("bokeh", inline=True)
    pn.config.inline = True


def apply() -> dict[str, bool]:
    """Apply every patch once; returns name -> applied."""
    if not _APPLIED:
        for patch in PATCHES:
            why = skipped_reason(patch)
            if why:
                warnings.warn(
                    f"dashboard patch {patch.name!r} skipped: {why} (upstream: {patch.upstream})",
                    CompatWarning,
                    stacklevel=2,
                )
            else:
                patch.apply()
            _APPLIED[patch.name] = why is None
    return dict(_APPLIED)
