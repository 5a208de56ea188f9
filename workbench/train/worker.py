"""Host a run in this process: `python -m workbench.train.worker RUN_DIR`.

Takes the run's writer lock first (a second writer is refused: one trajectory per run), then
continues from the newest checkpoint that loads (after a crash, a stop or a kill), forgetting
whatever was recorded after it. A completed run is never restarted. A crash marks the run
`failed` with its error.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from workbench.errors import SpecError
from workbench.specs import RunSpec
from workbench.store import Run, RunWriter
from workbench.train.control import FileControl
from workbench.train.loop import train
from workbench.train.sinks import StoreSink


def run_worker(run_dir: Path, emit_extra=None, notice=None) -> dict:
    """`notice(line)` hears what resuming had to do (e.g. a checkpoint skipped); default stderr."""
    run_dir = Path(run_dir)
    notice = notice or (lambda line: print(line, file=sys.stderr, flush=True))
    writer = RunWriter(run_dir)  # RunLocked while another process writes this run
    try:
        reader = Run(run_dir)
        if reader.meta.get("status") == "completed":
            raise SpecError("run", reader.id, "a run that has not completed (it has: its metrics are final)")
        spec = RunSpec.from_dict(reader.spec, name=reader.name)
        resume, skipped = reader.latest_loadable_checkpoint()
        for line in skipped:
            writer.event(0, "resume", line)
        if skipped:
            at = f"checkpoint {int(resume['step'])}" if resume is not None else "the start (no checkpoint loads)"
            notice(f"{reader.id}: " + "; ".join(skipped) + f"; resuming from {at}")
        writer.truncate_after(int(resume["step"]) if resume is not None else -1)
    except BaseException:
        writer.close()
        raise
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
    try:
        out = run_worker(Path(sys.argv[1]))
    except SpecError as err:  # refused (live elsewhere, completed): one line in worker.log
        print(f"worker: {err}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(out, default=str))
