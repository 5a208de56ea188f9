"""Host a run in this process: `python -m workbench.train.worker RUN_DIR`.

Continues from the latest checkpoint when there is one (after a crash, a stop or a kill),
forgetting whatever was recorded after it. A crash marks the run `failed` with its error.
"""
from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from workbench.specs import RunSpec
from workbench.store import Run, RunWriter
from workbench.train.control import FileControl
from workbench.train.loop import train
from workbench.train.sinks import StoreSink


def run_worker(run_dir: Path, emit_extra=None) -> dict:
    run_dir = Path(run_dir)
    reader = Run(run_dir)
    spec = RunSpec.from_dict(reader.spec, name=reader.name)
    steps = reader.checkpoints
    resume = reader.checkpoint(steps[-1]) if steps else None
    writer = RunWriter(run_dir)
    if resume is not None:
        writer.truncate_after(int(resume["step"]))
    sink = StoreSink(writer)

    def emit(e):
        sink(e)
        if emit_extra is not None:
            emit_extra(e)

    try:
        return train(spec, emit, FileControl(run_dir), resume=resume)
    except KeyboardInterrupt:
        writer.set_status("stopped", step=sink.last_step, error="interrupted")
        raise
    except Exception as err:
        writer.set_status("failed", step=sink.last_step, error=f"{type(err).__name__}: {err}")
        traceback.print_exc()
        return {"status": "failed", "step": sink.last_step, "error": str(err)}
    finally:
        writer.close()


if __name__ == "__main__":
    print(json.dumps(run_worker(Path(sys.argv[1])), default=str))
