"""What runs on a Dask worker: train one configuration, streaming its events to the client.

Events go through a `distributed.Queue` in small batches (metrics are many and tiny; probes and
checkpoints go at once); the client alone writes the store. Each attempt carries an id, so a
retry after a worker died is recognised and its predecessor's partial records dropped.
"""

from __future__ import annotations

import time
import traceback
import uuid


def train_remote(spec: dict, run_id: str, queue_name: str, threads: int) -> dict:
    import torch
    from distributed import Queue

    from workbench.specs import RunSpec
    from workbench.train.loop import train

    torch.set_num_threads(max(1, threads))
    queue, attempt = Queue(queue_name), uuid.uuid4().hex
    pending, last = [], [time.monotonic()]
    step = [0]

    def send(force=False):
        if pending and (force or time.monotonic() - last[0] > 0.25):
            queue.put(list(pending))
            pending.clear()
            last[0] = time.monotonic()

    def emit(e: dict):
        step[0] = e.get("step", step[0])
        pending.append({**e, "run": run_id, "attempt": attempt})
        send(force=e["kind"] != "metrics")

    emit({"kind": "start", "step": 0})
    try:
        out = train(RunSpec.from_dict(spec), emit)
    except Exception as err:  # a configuration that raises fails alone; the sweep goes on
        msg = f"{type(err).__name__}: {err}"
        emit({"kind": "done", "status": "failed", "step": step[0], "final": {}, "error": msg})
        traceback.print_exc()
        return {"run": run_id, "status": "failed", "error": msg}
    finally:
        send(force=True)
    return {"run": run_id, "status": out["status"], "step": out["step"]}
