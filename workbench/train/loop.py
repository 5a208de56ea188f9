"""The training loop. It emits small event dicts through `emit` and never knows who listens:

  {"kind": "status", "status": "running" | "paused", "step"}
  {"kind": "metrics", "step", "values": {name: float}}
  {"kind": "probe", "step", "name", "data": xr.Dataset, "capacity": int}
  {"kind": "checkpoint", "step", "state": dict of tensors}
  {"kind": "done", "status": "completed" | "stopped" | "diverged", "step", "final": {...}, "error": str}

A non-finite loss stops the run as `diverged` without checkpointing the broken state, so the
last checkpoint is the last finite one. `resume` takes a checkpoint dict and continues the same run.
"""

from __future__ import annotations

import math
import time

import torch

from workbench import threads
from workbench.specs import RunSpec
from workbench.ssm.optim_hints import param_groups
from workbench.tasks import get_task, loss as task_loss, make_batch, metric_value, test_batches
from workbench.train.build import autocast_dtype, build_run_model, check_before_start
from workbench.train.control import NoControl
from workbench.train.probes import Probes


def lr_factor(schedule: str, step: int, steps: int, warmup: int) -> float:
    if schedule == "constant":
        return 1.0
    if schedule == "warmup-cosine" and step < warmup:
        return (step + 1) / warmup
    start = warmup if schedule == "warmup-cosine" else 0
    progress = min(1.0, (step - start) / max(1, steps - start))
    return 0.5 * (1 + math.cos(math.pi * progress))


def evaluate(model, batches: dict, metric: str, device) -> dict:
    was = model.training
    model.eval()
    out = {}
    with torch.no_grad():
        for label, b in batches.items():
            b = type(b)(*(t.to(device) for t in b))
            # one test set: test/<metric>; one per test length: test/<label>/<metric>
            key = f"test/{metric}" if label == "test" else f"test/{label}/{metric}"
            out[key] = metric_value(metric, model(b.inputs).float(), b)
    model.train(was)
    return out


def train(run: RunSpec, emit, control=None, resume: dict | None = None) -> dict:
    """Train `run`, reporting through `emit`; returns the final summary. Torch's thread count is
    restored after (a notebook's kernel keeps its own)."""
    before = torch.get_num_threads()
    try:
        return _train(run, emit, control, resume)
    finally:
        torch.set_num_threads(before)


def _train(run: RunSpec, emit, control=None, resume: dict | None = None) -> dict:
    control = control or NoControl()
    tr = run.train
    if tr.threads:
        torch.set_num_threads(tr.threads)
    # threads 0: each step on the cores other processes leave free (workbench.threads), at most torch's count
    most, work = torch.get_num_threads(), tr.batch * run.task.length() * run.model.d_model
    device = check_before_start(run)  # the device exists and the run fits its memory
    amp = autocast_dtype(tr.precision, device)
    task = get_task(run.task.kind)
    model = build_run_model(run).to(device)
    opt = torch.optim.AdamW(param_groups(model, tr.lr, tr.weight_decay), lr=tr.lr)
    for g in opt.param_groups:
        g["base_lr"] = g["lr"]
    gen = torch.Generator().manual_seed(tr.seed)  # the data stream, on the CPU for reproducibility
    step = 0
    if resume is not None:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        gen.set_state(resume["data_rng"])
        step = int(resume["step"])
    tests = test_batches(run.task, min(tr.batch, 64))
    probe_batch = next(iter(test_batches(run.task, 4).values()))
    L = tr.probe_length or int(probe_batch.inputs.shape[1])
    probes = Probes(model.cpu(), probe_batch, L)
    model.to(device)
    capacity = tr.steps // max(tr.probe_every, tr.steps) + 2 if tr.probe_every == 0 else tr.steps // tr.probe_every + 2

    def record_probes(computed: dict | None = None):
        for name, ds in (computed if computed is not None else probes.compute(model.cpu())).items():
            emit({"kind": "probe", "step": step, "name": name, "data": ds, "capacity": capacity})
        model.to(device)

    def checkpoint() -> bool:
        """Save unless the weights went non-finite (a finite loss can precede a NaN update)."""
        if not all(torch.isfinite(p).all() for p in model.parameters()):
            return False
        state = {
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": opt.state_dict(),
            "data_rng": gen.get_state(),
            "dropout_rng": torch.get_rng_state(),
            "step": step,
        }
        emit({"kind": "checkpoint", "step": step, "state": state})
        return True

    def diverged(why: str) -> dict:
        err = f"{why} at step {step}; kept the last finite checkpoint"
        emit({"kind": "done", "status": "diverged", "step": step, "final": final, "error": err})
        return {"status": "diverged", "step": step, "final": final, "error": err}

    final, t0, seen_tokens = {}, time.perf_counter(), 0
    # dropout masks come from the global generator (nn.Dropout takes no other): seeded by train.seed, and
    # restored where the checkpoint left it, right before the first step so nothing in between draws from it
    torch.manual_seed(tr.seed)
    if resume is not None and "dropout_rng" in resume:  # older checkpoints resume with a fresh stream
        torch.set_rng_state(resume["dropout_rng"])
    if resume is None:
        record_probes(probes.initial)  # the untrained model's, computed once when the probes were chosen
        checkpoint()
    emit({"kind": "status", "status": "running", "step": step})
    while step < tr.steps:
        cmd = control.command()
        if cmd == "pause":
            emit({"kind": "status", "status": "paused", "step": step})
            while (cmd := control.command()) == "pause":
                time.sleep(0.1)
            emit({"kind": "status", "status": "running", "step": step})
        if cmd == "stop":
            if not checkpoint():
                return diverged("non-finite weights")
            emit({"kind": "done", "status": "stopped", "step": step, "final": final})
            return {"status": "stopped", "step": step, "final": final}
        for g in opt.param_groups:
            g["lr"] = g["base_lr"] * lr_factor(tr.schedule, step, tr.steps, tr.warmup)
        if not tr.threads and device.type == "cpu":
            torch.set_num_threads(threads.threads_for(work, most, threads.STEP_SMALL_WORK))
        batch = make_batch(run.task, tr.batch, gen)
        batch = type(batch)(*(t.to(device) for t in batch))
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            out = model(batch.inputs)
        loss = task_loss(out.float(), batch)
        if not torch.isfinite(loss):
            return diverged(f"non-finite loss ({loss.item()})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), tr.grad_clip if tr.grad_clip > 0 else float("inf"))
        opt.step()
        step += 1
        seen_tokens += int(batch.inputs.shape[0] * batch.inputs.shape[1])
        elapsed = time.perf_counter() - t0
        values = {
            "loss": loss.item(),
            "lr": opt.param_groups[0]["lr"],
            "grad_norm": float(gnorm),
            f"train/{task.metric}": metric_value(task.metric, out.detach().float(), batch),
            "tokens_per_s": seen_tokens / max(elapsed, 1e-9),
            "wall_time_s": elapsed,
        }
        if step % tr.eval_every == 0 or step == tr.steps:
            final = evaluate(model, tests, task.metric, device)
            values.update(final)
        emit({"kind": "metrics", "step": step, "values": values})
        if (tr.probe_every and step % tr.probe_every == 0) or step == tr.steps:
            if not all(torch.isfinite(p).all() for p in model.parameters()):
                return diverged("non-finite weights")
            record_probes()
        if (step % tr.checkpoint_every == 0 or step == tr.steps) and not checkpoint():
            return diverged("non-finite weights")
    final = {**final, "wall_time_s": time.perf_counter() - t0}
    emit({"kind": "done", "status": "completed", "step": step, "final": final})
    return {"status": "completed", "step": step, "final": final}
