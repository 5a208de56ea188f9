"""Memory a run will need, estimated from its spec alone, checked before anything is allocated.

An order-of-magnitude estimate, deliberately generous (it decides refusals, not placement):
  parameters  P ≈ n_layers·(4·E·H + 4·E·N + 4·H² [+ 8·H² with the MLP]) + (V_in + V_out)·H
              stored with their gradient and AdamW's two moments: 16 bytes each;
  activations kept for backward, per layer and token: ~16·E floats, plus the materialised scan
              states E·N (Mamba's selective scan stores h_t for every t: Gu & Dao 2023, §3.3),
              plus B·heads·L² for softmax attention;
  kernels     the S4D Vandermonde product, H·N·L complex, independent of the batch.
E = expand·H for mamba/mamba2, H otherwise; N = d_state. A run is refused when the estimate exceeds
the memory available on its device, naming the field that dominates.
"""

from __future__ import annotations

import os

from workbench.errors import SpecError

GiB = 2**30


def estimate(run) -> dict:
    """{'params': bytes, 'activations': bytes, 'kernels': bytes} for training `run` (a RunSpec)."""
    from workbench.tasks import get_task

    m, s, t, tr = run.model, run.ssm, run.task, run.train
    io = get_task(t.kind).io(t)
    vocab, d_in, d_out = io.get("vocab_size", 0), io.get("d_input", 1), io.get("d_output", 1)
    H, N = m.d_model, s.d_state
    E = m.expand * H if m.layer in ("mamba", "mamba2") else H
    per_layer = 4 * E * H + 4 * E * N + 4 * H * H + (8 * H * H if m.mlp else 0)
    params = m.n_layers * per_layer + (max(vocab, d_in) + max(vocab, d_out)) * H
    L = max([t.length()] + (list(t.test_lengths) if t.kind == "induction-heads" else []))
    tokens = tr.batch * t.length()
    per_token = 16 * E + (2 * E * N if m.layer in ("mamba", "mamba2") else 0)
    acts = m.n_layers * tokens * per_token * 4
    if m.layer == "attention":
        acts += m.n_layers * 3 * tr.batch * m.heads * t.length() ** 2 * 4
    kernels = m.n_layers * H * N * L * 8 if m.layer in ("s4d", "lru", "mega-ema") else 0
    return {"params": 16 * params, "activations": acts, "kernels": kernels}


def available_bytes(device: str = "cpu") -> int:
    """Free memory of the device a run will use (CUDA: the driver's free bytes; else MemAvailable)."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info()[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def check_memory(run, device: str = "cpu", available: int | None = None) -> dict:
    """Raise SpecError naming the dominant field when `run` cannot fit; returns the estimate."""
    est = estimate(run)
    need = sum(est.values())
    have = available_bytes(device) if available is None else available
    if need <= have:
        return est
    total = f"estimated {need / GiB:.3g} GiB to train, {have / GiB:.3g} GiB available on {device}"
    if est["params"] >= max(est["activations"], est["kernels"]):
        raise SpecError(
            "model.d_model", run.model.d_model, f"a model that fits in memory ({run.model.n_layers} layers: {total})"
        )
    if est["activations"] >= est["kernels"] and run.train.batch > 32:  # beyond the usual: blame the batch
        raise SpecError(
            "train.batch", run.train.batch, f"a batch that fits in memory (length {run.task.length()}: {total})"
        )
    field = {"selective-copying": "task.n_data", "copying": "task.copy_max"}.get(run.task.kind, "task.seq_len")
    value = getattr(run.task, field.split(".")[1])
    raise SpecError(field, value, f"a sequence length that fits in memory (L = {run.task.length()}: {total})")
