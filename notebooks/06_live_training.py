# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 6. Watching a live run
#
# `runner.start` trains in its own process (a crash or a long run never blocks the notebook); the run
# store is the only link. We poll `open_run(...).metrics` while it trains, then reopen the finished run
# and read its probes, exactly as the dashboard does.

# %%
import os
import tempfile
import time

import holoviews as hv
import pandas as pd
from IPython.display import Markdown, display

from workbench.plots import figure_for_run, training_figure
from workbench.specs import RunSpec
from workbench.store import list_runs, open_run
from workbench.train import runner

hv.extension("bokeh", inline=True)
FAST = os.environ.get("WORKBENCH_FAST") == "1"
ROOT = tempfile.mkdtemp(prefix="workbench-nb06-")

# %%
spec = RunSpec.from_dict(
    {
        "model": {"layer": "s4d", "d_model": 8 if FAST else 64, "n_layers": 2},
        "task": {"name": "adding", "seq_len": 32 if FAST else 100},
        "train": dict(steps=200, batch=8, probe_every=50, eval_every=50, checkpoint_every=100, warmup=5, threads=1)
        if FAST
        else dict(steps=3000, batch=32, probe_every=100, eval_every=100, checkpoint_every=500),
    }
)
run_id, proc = runner.start(spec, ROOT)
run_id

# %% [markdown]
# ## Watching it train
# The figure below redraws whenever the store holds a newer step (a display handle updated in place);
# each poll reads only the store, and a watcher sees new steps within a second of the writer. The
# table after it records what each poll saw.

# %%
POLL_S, LIMIT_S = (0.5, 120) if FAST else (5.0, 3600)
live = display(Markdown(f"run `{run_id}`: waiting for the first step..."), display_id=True)
seen, shown, t0 = [], -1, time.time()
while proc.poll() is None and time.time() - t0 < LIMIT_S:
    time.sleep(POLL_S)
    r = open_run(run_id, ROOT)
    seen.append({"time_s": round(time.time() - t0, 1), "status": r.status, "last_step": r.last_step})
    if r.last_step > shown:
        shown = r.last_step
        live.update(training_figure(r.metrics).opts(title=f"{run_id}: {r.status}, step {shown}"))
proc.wait(timeout=60)
live.update(training_figure(open_run(run_id, ROOT).metrics))
pd.DataFrame(seen).drop_duplicates(["status", "last_step"])

# %% [markdown]
# ## Reopening the finished run
# `open_run` gives the spec, the scalar metrics over `step`, and each probe over `step` plus its own
# dimensions: everything below reads only the run folder (a later session, another machine).

# %%
run = open_run(run_id, ROOT)
assert run.status == "completed", run.meta.get("error")
print(run.probe_names)
run.metrics

# %% [markdown]
# The index of runs, and the kernels at the first and last probe step.

# %%
list_runs(ROOT)[["id", "status", "step", "model.layer", "task.kind"]]

# %%
first = int(run.probe("kernels").step[0])
figure_for_run(run, "kernels", step=first)[0] + figure_for_run(run, "kernels")[0]

# %%
figure_for_run(run, "memory")[0]
