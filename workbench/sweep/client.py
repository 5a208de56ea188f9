"""The client side of a sweep: create the runs, submit one task each, write what streams back.

The store is written only here, so sweep runs appear in `workbench runs` and the dashboard
live, like any other run. A worker that dies has its task retried once (Dask's allowed-failures
= 1), then the run is marked failed; Ctrl-C cancels and marks unfinished runs stopped.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import dask

from workbench.specs import SweepSpec
from workbench.store import RunWriter
from workbench.store.ids import new_run_id
from workbench.store.index import upsert
from workbench.store.run import default_root
from workbench.sweep.remote import train_remote
from workbench.train.sinks import StoreSink


def _cluster(scheduler, workers, threads):
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=threads, processes=True, dashboard_address=None, silence_logs=40
    )
    return Client(cluster), cluster


def run_sweep(
    sweep: SweepSpec, root=None, scheduler: str | None = None, workers: int = 2, threads: int = 1, progress=None
) -> dict:
    """Run every configuration; returns {sweep, runs: {id: {status, swept, first_metrics_at, done_at}}}."""
    from distributed import Queue, wait

    root = Path(root or default_root())
    configs = sweep.configurations()
    sweep_id = new_run_id(sweep.name)
    runs, sinks = {}, {}
    for swept, run in configs:
        w = RunWriter.create(run.to_dict(), run.name, root)
        upsert(root, w.id, sweep=sweep_id, swept=json.dumps(sorted(swept)), status="queued")
        w.set_status("queued", step=0)
        runs[w.id] = {"status": "queued", "swept": swept, "first_metrics_at": None, "done_at": None, "spec": run}
        sinks[w.id] = StoreSink(w)
    t0 = time.time()
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        client, cluster = _cluster(scheduler, workers, threads)
        try:
            queue = Queue(f"workbench-{sweep_id}", client=client)
            futures = {
                client.submit(
                    train_remote, r["spec"].to_dict(), rid, queue.name, threads, key=f"train-{rid}", pure=False
                ): rid
                for rid, r in runs.items()
            }
            attempts: dict[str, str] = {}
            try:
                while True:
                    _drain(queue, runs, sinks, attempts, t0)
                    done = [f for f in futures if f.done()]
                    if progress:
                        progress(_line(runs, len(done), len(futures)))
                    if len(done) == len(futures):
                        break
                    time.sleep(0.1)
                wait(list(futures))
                _drain(queue, runs, sinks, attempts, t0, final=True)
                for f, rid in futures.items():
                    if f.status == "error" and runs[rid]["done_at"] is None:  # e.g. its worker died twice
                        err = f.exception()
                        why = f"{type(err).__name__}: {err}" + ("" if rid in attempts else " (never started)")
                        sinks[rid].w.set_status("failed", step=sinks[rid].last_step, error=why)
                        runs[rid].update(status="failed", done_at=time.time() - t0, error=str(err))
                if progress:  # the last line agrees with the statuses just recorded
                    progress(_line(runs, len(futures), len(futures)))
            except KeyboardInterrupt:
                client.cancel(list(futures))
                for rid, r in runs.items():
                    if r["done_at"] is None:
                        sinks[rid].w.set_status("stopped", step=sinks[rid].last_step, error="sweep cancelled")
                        r["status"] = "stopped"
                raise
        finally:
            for s in sinks.values():
                s.w.close()
            client.close()
            if cluster is not None:
                cluster.close()
    for r in runs.values():
        r.pop("spec")
    return {"sweep": sweep_id, "runs": runs, "wall_time_s": time.time() - t0}


def _drain(queue, runs, sinks, attempts, t0, final=False):
    """Write every event batch waiting in the queue into the store."""
    while queue.qsize() > 0 or final:
        try:
            batches = queue.get(batch=True, timeout=0.5 if final else 0)
        except TimeoutError:
            break
        if not batches:
            break
        for batch in batches:
            for e in batch:
                rid = e["run"]
                if e["kind"] == "start":
                    if rid in attempts and attempts[rid] != e["attempt"]:  # a retry: drop the dead attempt's records
                        sinks[rid].w.truncate_after(-1)
                        sinks[rid].w.event(0, "retry", "worker lost; configuration restarted")
                    attempts[rid] = e["attempt"]
                    runs[rid]["status"] = "running"
                    continue
                if e["attempt"] != attempts.get(rid):
                    continue  # a late event from an attempt that was replaced
                sinks[rid](e)
                if e["kind"] == "metrics" and runs[rid]["first_metrics_at"] is None:
                    runs[rid]["first_metrics_at"] = time.time() - t0
                if e["kind"] == "done":
                    runs[rid].update(status=e["status"], done_at=time.time() - t0, error=e.get("error", ""))
        if not final and queue.qsize() == 0:
            break


def _line(runs, n_done, n_total) -> str:
    failed = sum(r["status"] == "failed" for r in runs.values())
    running = sum(r["status"] == "running" for r in runs.values())
    return f"sweep: {n_done}/{n_total} done, {running} running, {failed} failed"
