"""The four probe views (kernels, spectrum, memory, token dynamics): each draws `workbench.plots`
builders of the Datasets on show, for the untrained model (preview) or a run at the selected step."""

from __future__ import annotations

import param

from workbench.plots.views_memory import (
    gradient_memory_view,
    half_life_histogram,
    memory_function_view,
    selective_heatmap,
)
from workbench.plots.views_memory_science import ess_view, state_norms_view
from workbench.plots.views_spectrum import eigen_view, kernel_view, pole_trajectory_view, pole_view, response_view
from workbench.plots.views_tokens import attention_view, regime_summary, token_norms_view, token_trajectories_view

from .base import ProbeView

# layer kinds with a materialized mixing matrix (workbench.analysis.preview.ATTENTION, by spec name)
ATTENTION_LAYERS = {"mamba", "mamba2", "attention", "deltanet", "gated-deltanet", "rg-lru"}


class KernelsView(ProbeView):
    """Per-channel kernels K[ℓ] of one layer; linear or log10|K|."""

    title = "Kernels"
    sources = ["kernels"]
    urgent = True  # what a knob answers with first
    channels = param.ListSelector(default=[], objects=[], doc="Channels to draw (empty: four spread over the layer).")
    log_abs = param.Boolean(default=False, doc="log10|K|: straight lines are exponential decay.")
    length = param.Integer(
        default=0,
        bounds=(0, None),
        doc="Lags shown (0: all computed: the task's sequence length, or the probe length).",
    )
    log_lag = param.Boolean(default=False, doc="Log lag axis (ℓ ≥ 1): a power-law decay is a straight line.")
    controls_params = ["layer", "channels", "log_abs", "length", "log_lag"]

    def _sync_layers(self) -> None:
        super()._sync_layers()
        ds = self.get("kernels")
        chans = [int(c) for c in ds["channel"].values] if ds is not None else []
        if list(self.param.channels.objects) != chans:
            self.param.channels.objects = chans
            kept = [c for c in self.channels if c in chans]
            self.channels = kept if len(kept) == len(self.channels) else []  # a changed width: the spread again
        if not self.channels and chans:  # the list shows what is drawn: four channels spread over the layer
            self.channels = [
                chans[i] for i in sorted({round(k * (len(chans) - 1) / 3) for k in range(min(4, len(chans)))})
            ]

    def figures(self):
        return {"kernels": kernel_view(self.get("kernels"), self.channels, self.log_abs, self.length, self.log_lag)}

    def note(self) -> str:
        ds = self.get("kernels")
        if ds is not None and ds.attrs.get("selective"):
            on = "the typed text" if self.state.checkpoint else "the probe input"
            return f"Selective layer: the impulse response at the SSM on {on} (α[ℓ, 0])."
        if ds is None and self.state.checkpoint and "kernels" in self.state.checkpoint_skipped:
            return "Kernels: " + self.state.checkpoint_skipped["kernels"] + "."
        if ds is None and self.state.checkpoint:
            return (
                "This checkpoint's layers have no kernel and no impulse-response probe (Mamba layers have one): "
                "hidden attention in Token dynamics shows how they mix the text."
            )
        return ""


class SpectrumView(ProbeView):
    """Poles with unit circle and half-life rings, continuous eigenvalues, frequency response,
    and for a run the poles' trajectories over the recorded steps."""

    title = "Spectrum"
    sources = ["spectrum", "frequency_response", "spectrum_steps"]

    def figures(self):
        traj = self.get("spectrum_steps")
        return {
            "poles": pole_view(self.get("spectrum")),
            "eigen": eigen_view(self.get("spectrum")),
            "response": response_view(self.get("frequency_response")),
            "trajectories": pole_trajectory_view(traj),
        }

    def note(self) -> str:
        if self.state.run_id and self.get("frequency_response") is None:
            return "Runs record poles, not frequency responses: the response is shown for previews."
        if self.state.checkpoint:
            return (
                f"Checkpoint {self.state.checkpoint}: poles and eigenvalues at rest (Δ of a zero input); its "
                "selective layers have no fixed frequency response, and pole trajectories need a run's steps."
            )
        return ""


class MemoryView(ProbeView):
    """Half-lives of every layer, the memory function (log-log), gradient memory, the
    selective-forgetting heat map, the effective state size and state norms of the chosen layer."""

    title = "Memory"
    sources = ["spectrum", "memory", "gradient_memory", "selective", "ess", "state_norms"]
    heat = param.Selector(
        default="decay_to_end",
        objects=["decay_to_end", "delta", "forget_gate", "alpha"],
        doc="Which selective quantity the heat map shows.",
    )
    controls_params = ["layer", "heat"]

    def figures(self):
        sel = self.get("selective")
        heat = (
            self.heat
            if sel is not None and self.heat in sel
            else next((v for v in ("decay_to_end", "forget_gate", "alpha") if sel is not None and v in sel), self.heat)
        )
        return {
            "half_lives": half_life_histogram(self.get("spectrum", layer=False)),
            "memory": memory_function_view(self.get("memory")),
            "gradient": gradient_memory_view(self.get("gradient_memory")),
            "forgetting": selective_heatmap(sel, heat),
            "ess": ess_view(self.get("ess")),
            "state_norms": state_norms_view(self.get("state_norms")),
        }

    def note(self) -> str:
        if self.state.checkpoint and self.get("memory") is None:
            ess = self.state.checkpoint_skipped.get("ess")
            return (
                "StableSSM's memory function needs continuous inputs and this checkpoint reads tokens: the "
                "gradient memory on the typed text stands for it." + (f" ESS: {ess}." if ess else "")
            )
        return ""


class TokensView(ProbeView):
    """Δ_t and gate heat maps on the probe input, token norms over depth, 2-D trajectories,
    predicted vs observed regime, hidden attention."""

    title = "Token dynamics"
    sources = ["selective", "tokens", "attention"]
    channel = param.Integer(default=0, bounds=(0, None), doc="Channel or head of the attention matrix.")
    controls_params = ["layer", "channel"]

    def figures(self):
        sel = self.get("selective")
        # Mamba has no gate of its own: its per-token forgetting is the decay Π Ā_k that Δ_t sets
        gate = next(
            (v for v in ("forget_gate", "alpha", "input_gate", "a", "decay_to_end") if sel is not None and v in sel),
            "gate",
        )
        tokens = self.get("tokens", layer=False)
        return {
            "delta": selective_heatmap(sel, "delta"),
            "gate": selective_heatmap(sel, gate),
            "norms": token_norms_view(tokens),
            "trajectories": token_trajectories_view(tokens),
            "attention": attention_view(self.get("attention"), self.channel, why=self._attention_missing()),
        }

    def _attention_missing(self) -> str:
        """Why a run shows no hidden attention: its model has none, or it predates recording it."""
        if not self.state.run_id or self.state.data.get("attention") is not None:
            return ""
        try:
            layer = (self.state.open().spec.get("model") or {}).get("layer", "")
        except Exception:  # an unreadable run says so elsewhere (the header)
            return ""
        if layer in ATTENTION_LAYERS:
            return "recorded by runs made since runs store hidden attention; the preview of this spec shows it"
        return ""

    def note(self) -> str:
        att = self.get("attention")
        whose = "this checkpoint" if self.state.checkpoint else "this run"
        stored = (
            f" · hidden attention of {whose}: {att.attrs['stored']}"
            if att is not None and "stored" in att.attrs
            else ""
        )
        return regime_summary(self.get("tokens", layer=False)) + stored
