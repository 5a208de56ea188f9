"""Open a pretrained checkpoint and read a text with it: the model source becomes a choice.

"build from the spec" keeps every tab on the spec-built model (as before); "open a checkpoint"
loads a Hugging Face / mamba_ssm / workbench checkpoint (a folder or a cached id, never a
download). This tab then shows Δ_t, gates, ‖h_t‖, hidden attention, effective memory, the Δ
audit and per-token loss on the typed text, and every probe view (kernels, spectrum, memory,
token dynamics) shows the checkpoint on the same text through `Workbench.show_checkpoint`, with
the words on the token axes. The loaded config shows read-only in the sidebar (`config_card`),
in place of the spec editor.
"""

from __future__ import annotations

import json

import panel as pn
import param

from workbench.errors import SpecError

from .base import PANE

SOURCES = ("build from the spec", "open a checkpoint")
CHECKPOINT_TABS = (
    "Checkpoint **{name}** is open: **Kernels, Spectrum, Memory** and **Token dynamics** show it on your "
    "text{cut}, its words on the token axes, and **Pretrained** adds Δ, gates, attention and loss per word. "
    "**Training** has no run of it to show; the spec editor steps aside for the loaded config (read-only, "
    "in the sidebar). Choose *build from the spec* to go back."
)
CUT = " (its first {n} of {total} tokens: the probe views' per-token matrices grow as L²)"
EXAMPLE = "The cat sat on the mat. The dog sat on the log. The cat sat on the"
OFF = (
    "The checkpoint views are off: choose **open a checkpoint**, give a folder or a cached model id, "
    "and press *Open*. The other tabs show the model built from the spec."
)


class PretrainedView(pn.viewable.Viewer):
    title = "Pretrained"
    mode = param.Selector(default=SOURCES[0], objects=list(SOURCES), doc="Where the model comes from.")
    source = param.String(default="", doc="A checkpoint folder or a Hugging Face id in the local cache.")
    text = param.String(default=EXAMPLE, doc="The text the model reads.")
    layer = param.Integer(default=0, bounds=(0, None), doc="Layer of the Δ heat map and the hidden attention.")
    channel = param.Integer(default=0, bounds=(0, None), doc="Channel (head for Mamba-2) of the hidden attention.")

    def __init__(self, state=None, **params):
        super().__init__(**params)
        self.state, self.model, self.data = state, None, None
        from workbench.pretrained import cached_ids

        ids = cached_ids()
        self._mode = pn.widgets.RadioButtonGroup.from_param(self.param.mode, label="Model source", color="primary")
        self._source = pn.widgets.TextInput.from_param(
            self.param.source, label="Checkpoint", placeholder="path/to/checkpoint or org/model-id", width=420
        )
        self._text = pn.widgets.TextAreaInput.from_param(
            self.param.text, label="Text", height=90, sizing_mode="stretch_width", placeholder="Type a text…"
        )
        self._open = pn.widgets.Button(label="Open", color="primary", width=120)
        self._open.on_click(self._on_open)
        self._layer = pn.widgets.IntInput.from_param(self.param.layer, label="Layer", width=120)
        self._channel = pn.widgets.IntInput.from_param(self.param.channel, label="Channel / head", width=140)
        self._alert = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self._status = pn.pane.Markdown(
            OFF + (f"\n\nCached ids: {', '.join(ids[:8])}" if ids else ""), sizing_mode="stretch_width"
        )
        self._config = pn.pane.JSON({}, depth=2, sizing_mode="stretch_width")
        self.config_card = pn.Card(
            self._config,
            title="Loaded config (read-only)",
            collapsed=False,
            visible=False,
            sizing_mode="stretch_width",
            css_classes=["pretrained-config"],
        )
        # shown above every tab while a checkpoint is open: which model the other tabs draw, and why
        self.banner = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self._panes = {
            k: pn.pane.HoloViews(None, **PANE)
            for k in ("delta", "gate", "state_norm", "attention", "memory", "audit", "loss")
        }
        self.param.watch(self._on_mode, ["mode"])
        self.param.watch(self._on_view, ["layer", "channel"])
        if state is not None:  # a run chosen in Runs takes the probe views over
            state.param.watch(lambda *_: self._on_mode(), ["checkpoint"])
        self._on_mode()

    def _on_mode(self, *_):
        on = self.mode == SOURCES[1]
        for w in (self._source, self._text, self._open, self._layer, self._channel):
            w.visible = on
        for p in self._panes.values():
            p.visible = on and self.data is not None
        shown = on and self.model is not None and (self.state is None or bool(self.state.checkpoint))
        self.config_card.visible = self.banner.visible = shown
        if not on:
            self._status.object = OFF
            if self.state is not None:
                self.state.close_checkpoint()

    def _fail(self, err: Exception) -> None:
        self._alert.param.update(object=str(err), visible=True)

    def _on_open(self, *_):
        self._alert.visible = False
        try:
            from workbench.pretrained import load_pretrained

            key = self.source.strip()
            if self.model is None or getattr(self.model, "meta", {}).get("source") != key:
                self.model = None
                self.model = load_pretrained(key)
            self._analyse()
            self._show_everywhere()
        except SpecError as err:
            self._fail(err)
            return
        meta = self.model.meta
        self._config.object = meta["config"]
        fallback = "" if meta["tokenizer"] == "tokenizer.json" else f" **Tokenizer: {meta['tokenizer']}.**"
        self._status.object = (
            f"**{meta['format']}** from `{meta['folder']}`: {len(self.model.layers)} layers, "
            f"{meta['parameters']:,} parameters, {self.data['loss'].sizes['position']} tokens, "
            f"mean loss {self.data['loss'].attrs['mean_loss']:.3f} nats; Δ audit: "
            f"{self.data['audit'].attrs['verdict']}.{fallback}"
        )
        self._on_mode()
        self._draw()

    def _show_everywhere(self) -> None:
        """The probe views show the checkpoint on the text (`Workbench.show_checkpoint`)."""
        from pathlib import Path

        name = Path(self.model.meta["folder"]).name or self.model.meta["source"]
        if self.state is not None:
            self.state.show_checkpoint(self.model, self.text, name)
            ds = next(iter(self.state.data.values()))
            n, total = ds.attrs["text_tokens"], ds.attrs["text_total"]
        else:
            n = total = self.data["loss"].sizes["position"]
        cut = CUT.format(n=n, total=total) if n < total else ""
        self.banner.object = CHECKPOINT_TABS.format(name=name, cut=cut)

    def _analyse(self) -> None:
        from workbench.analysis.text_report import inspect_text

        n = len(self.model.layers)
        if self.layer >= n:
            raise SpecError("layer", self.layer, f"an integer in [0, {n - 1}]")
        self.data = inspect_text(self.model, self.text, layer=self.layer, channel=self.channel)

    def _on_view(self, *_):
        if self.model is None:
            return
        self._alert.visible = False
        try:
            self._analyse()
        except SpecError as err:
            self._fail(err)
            return
        self._draw()

    def _draw(self) -> None:
        from workbench.plots.views_text import (
            attention_text_view,
            audit_text_view,
            delta_text_view,
            loss_text_view,
            memory_text_view,
            norms_text_view,
        )

        d = self.data
        figs = {
            "delta": delta_text_view(d["dynamics"], self.layer),
            "gate": delta_text_view(d["dynamics"], self.layer, "gate"),
            "state_norm": norms_text_view(d["dynamics"]),
            "attention": attention_text_view(d["attention"]),
            "memory": memory_text_view(d["memory"]),
            "audit": audit_text_view(d["audit"]),
            "loss": loss_text_view(d["loss"]),
        }
        for k, fig in figs.items():
            self._panes[k].object = fig

    def summary_json(self) -> str:
        from workbench.analysis.text_report import summary

        return json.dumps(summary(self.model, self.data)) if self.data is not None else "{}"

    def __panel__(self):
        p = self._panes
        return pn.Column(
            pn.Row(self._mode),
            pn.Row(self._source, self._open, self._layer, self._channel),
            self._text,
            self._alert,
            self._status,
            pn.Row(p["delta"], p["gate"], sizing_mode="stretch_width"),
            pn.Row(p["state_norm"], p["loss"], sizing_mode="stretch_width"),
            pn.Row(p["attention"], p["memory"], sizing_mode="stretch_width"),
            pn.Row(p["audit"], sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
