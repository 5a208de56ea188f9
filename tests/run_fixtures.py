"""A small finished Mamba run on selective copying, trained in-process: what the export and probe
tests read back (probes, checkpoints, metrics) at a few steps."""

from workbench.specs import RunSpec
from workbench.store import open_run
from workbench.train import runner
from workbench.train.worker import run_worker


def trained_mamba_run(root, d_model: int, steps: int, every: int):
    spec = RunSpec.from_dict(
        {
            "model": {"layer": "mamba", "d_model": d_model, "n_layers": 2},
            "task": {"name": "selective-copying", "noise_len": 8, "n_data": 4},
            "train": dict(
                steps=steps, batch=4, probe_every=every, eval_every=every, checkpoint_every=every, warmup=1, threads=1
            ),
        }
    )
    path = runner.create(spec, root)
    run_worker(path)
    return open_run(path)
