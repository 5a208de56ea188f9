"""`workbench eval RUN --lengths 64,128,...`: a trained run at other lengths, stored with the run.

`evaluate_lengths(run, lengths)` is the same from Python (the dashboard's Runs view calls it).
Everything a user can get wrong (run, lengths, checkpoint, name) is checked before any compute.
"""

from __future__ import annotations

import json
import math
import resource
import sys
import time

from workbench.errors import SpecError


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a trained run at other sequence lengths; stored with the run")
    p.add_argument("run", help="run id (under --runs-dir) or run folder")
    p.add_argument("--lengths", required=True, help="comma-separated lengths, e.g. 64,128,256,512")
    p.add_argument("--batch", type=int, default=64, help="held-out sequences per length (default 64)")
    p.add_argument("--step", type=int, default=None, help="a saved checkpoint step (default: the latest)")
    p.add_argument("--name", default="lengths", help="name of the stored result (default: lengths)")
    p.add_argument("--runs-dir", default=None, help="run store root (default ./runs or $WORKBENCH_RUNS_DIR)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def evaluate_lengths(run, lengths, batch: int = 64, step: int | None = None, name: str = "lengths", store: bool = True):
    """Accuracy/loss of `run` (a Run or id) at each length, on its task's generator; stored as eval `name`."""
    from workbench.analysis.position_loss import check_lengths, position_loss
    from workbench.specs import RunSpec
    from workbench.store import open_run
    from workbench.store.evals import _check, save_eval

    run = open_run(run) if isinstance(run, str) else run
    spec = RunSpec.from_dict(run.spec, name=run.name)
    lengths = check_lengths(lengths, spec.task)
    if not isinstance(batch, int) or batch < 1:
        raise SpecError("--batch", batch, "an integer >= 1")
    _check(name)
    from workbench.train.checkpoints import load_model

    model = load_model(run, step)  # checks the checkpoint
    t0 = time.perf_counter()
    ds = position_loss(model, spec.task, lengths, batch=batch)
    ds.attrs.update(
        run=run.id,
        step=int(step if step is not None else run.checkpoints[-1]),
        wall_s=round(time.perf_counter() - t0, 3),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )
    if store:
        save_eval(run.path, name, ds)
    return ds


def eval_command(ns) -> int:
    from workbench.store import open_run

    run = open_run(ns.run, ns.runs_dir)
    ds = evaluate_lengths(run, ns.lengths, ns.batch, ns.step, ns.name)
    rows = {
        int(L): {"accuracy": _num(a), "loss": _num(lo)}
        for L, a, lo in zip(ds.length.values, ds.accuracy.values, ds.loss.values)
    }
    if ns.json:
        print(
            json.dumps(
                {
                    "id": run.id,
                    "name": ns.name,
                    "task": ds.attrs["task"],
                    "train_length": ds.attrs["train_length"],
                    "lengths": rows,
                    "wall_s": ds.attrs["wall_s"],
                }
            )
        )
        return 0
    print(f"{run.id}  {ds.attrs['task']}  trained at L={ds.attrs['train_length']}  ({ds.attrs['wall_s']} s)")
    for L, r in rows.items():
        acc = "   -   " if r["accuracy"] is None else f"{100 * r['accuracy']:6.1f}%"
        print(f"  L={L:<8d} accuracy {acc}  loss {r['loss']:.4g}")
    print(f"stored as eval {ns.name!r} in {run.path}", file=sys.stderr)
    return 0


def _num(v):
    v = float(v)
    return None if math.isnan(v) else v
