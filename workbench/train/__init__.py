"""Training: the loop (emits events, never knows who listens), the process that hosts it, its control.

`load_model(run)` rebuilds a run's model from its spec and a checkpoint (imported on first use).
"""


def __getattr__(name):
    if name == "load_model":  # lazy: `import workbench.train` stays free of torch until a model is asked for
        from workbench.train.checkpoints import load_model

        return load_model
    raise AttributeError(f"module 'workbench.train' has no attribute {name!r}")
