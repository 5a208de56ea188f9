"""`workbench` command line. User errors print one line and exit 2, never a traceback."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from workbench.errors import SpecError
from workbench.flags import add_run_flags, add_spec_flags, given_flags, spec_from_args
from workbench.specs import SSMSpec, SweepSpec


def dashboard_script() -> Path:
    """The dashboard's `panel serve` script: next to this package (a wheel installs `apps/` as
    `workbench_dashboard`; a source checkout has `apps/`), else wherever Python finds the installed
    `workbench_dashboard` (an editable install). Found without importing panel."""
    import importlib.util

    beside = Path(__file__).resolve().parents[1]
    for folder in (beside / "workbench_dashboard", beside / "apps"):
        if (folder / "dashboard.py").is_file():
            return folder / "dashboard.py"
    spec = importlib.util.find_spec("workbench_dashboard")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            if (Path(folder) / "dashboard.py").is_file():
                return Path(folder) / "dashboard.py"
    raise SpecError(
        "dashboard",
        "workbench_dashboard",
        "an installed ssm-workbench (pip install ssm-workbench) or a source checkout with apps/dashboard.py",
    )


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage too)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> Parser:
    parser = Parser(prog="workbench", description="SSM Workbench: initialize, discretize, gate, look, train.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    serve = sub.add_parser("serve", help="serve the Panel dashboard")
    serve.add_argument("--port", type=int, default=5006, help="port (default 5006)")
    serve.add_argument("--address", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--runs-dir", default="runs", help="run store root (default ./runs)")
    serve.add_argument("--show", action="store_true", help="open a browser")
    serve.add_argument(
        "--allow-websocket-origin",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="another origin allowed to open the dashboard's websocket (e.g. a reverse proxy's "
        "public name); repeatable",
    )
    serve.add_argument(
        "--basic-auth",
        default=None,
        metavar="PASSWORD|FILE",
        help="require a password (Panel's basic auth): a password, or a file of user:password lines",
    )
    serve.add_argument(
        "--cookie-secret",
        default=None,
        metavar="SECRET",
        help="secret that signs the login cookie (default: $WORKBENCH_COOKIE_SECRET, else random per start)",
    )
    spec = sub.add_parser("spec", help="validate settings and print the spec as JSON")
    add_spec_flags(spec, SSMSpec)
    train = sub.add_parser(
        "train",
        help="train a model on a task, recording metrics and probes in the run store",
        description=train_description(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_flags(train, defaults=quick_defaults())
    train.add_argument("--runs-dir", default=None, help="run store root (default ./runs or $WORKBENCH_RUNS_DIR)")
    train.add_argument("--name", default="", help="a name for the run (default: task, layer and init)")
    train.add_argument(
        "--preset",
        default=None,
        metavar="NAME",
        help="train every run of a preset (data/presets/NAME.yaml; flags override its fields) and "
        "say whether they separate as the paper says",
    )
    train.add_argument("--preset-run", default=None, metavar="LABEL", help="only this run of the preset")
    train.add_argument(
        "--json",
        action="store_true",
        help="print the final summary as one JSON object on stdout (progress stays on stderr)",
    )
    train.add_argument("--resume", metavar="RUN", help="continue RUN from its last checkpoint (spec flags not allowed)")
    train.add_argument("--detach", action="store_true", help="train in a background process and return at once")
    runs = sub.add_parser("runs", help="list the runs in the store")
    runs.add_argument("--runs-dir", default=None)
    runs.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="keep runs whose FIELD (e.g. model.layer or layer) equals VALUE; repeatable",
    )
    runs.add_argument("--json", action="store_true", help="print the rows as JSON (examples with example: true)")
    runs.add_argument("--no-examples", dest="examples", action="store_false", help="leave out the shipped example runs")
    runs.add_argument(
        "--rebuild",
        action="store_true",
        help="rebuild the index from the run folders first (damaged runs are listed as damaged)",
    )
    show = sub.add_parser("show", help="one run: spec, status, metrics, probes, checkpoints")
    show.add_argument("run")
    show.add_argument("--runs-dir", default=None)
    sweep = sub.add_parser("sweep", help="run a sweep (grid/random over spec fields) on Dask distributed")
    sweep.add_argument("file", help="the sweep's YAML file (base, grid, random)")
    sweep.add_argument("--scheduler", default=None, help="a Dask scheduler address (default: a LocalCluster)")
    sweep.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    sweep.add_argument(
        "--threads-per-worker", type=int, default=1, help="threads per worker, and torch threads (default 1)"
    )
    sweep.add_argument("--runs-dir", default=None)
    sweep.add_argument("--dry-run", action="store_true", help="list the configurations and exit")
    sweep.add_argument("--json", action="store_true", help="print the summary as JSON")
    sweep.add_argument(
        "--max-configs",
        type=int,
        default=None,
        metavar="N",
        help=f"refuse sweeps of more than N configurations (default {SweepSpec.MAX_CONFIGS})",
    )
    for verb, what in (
        ("pause", "pause a live run"),
        ("resume", "unpause, or continue a stopped run"),
        ("stop", "stop a run after saving a checkpoint"),
    ):
        p = sub.add_parser(verb, help=what)
        p.add_argument("run")
        p.add_argument("--runs-dir", default=None)
    from workbench.cli_export import add_parser as add_export_parser

    add_export_parser(sub)
    from workbench.cli_inspect import add_parser as add_inspect_parser

    add_inspect_parser(sub)
    from workbench.cli_eval import add_parser as add_eval_parser

    add_eval_parser(sub)
    return parser


def quick_defaults() -> dict:
    """{'train.steps': 600, ...}: the `quick` preset's values, the defaults `train` starts from."""
    from workbench.presets import default_run
    from workbench.store.index import flatten

    return flatten(default_run().to_dict())


def train_description() -> str:
    from workbench.presets import DEFAULT, load_preset, preset_names

    quick = load_preset(DEFAULT)
    run = quick.run_dict(next(iter(quick.runs)))
    fields = ", ".join(f"{part}.{k}={v}" for part, d in run.items() for k, v in d.items())
    import textwrap

    lines = textwrap.wrap(
        f"Defaults: the {DEFAULT!r} preset ({quick.title}): {fields}; every other field at its "
        "spec default. The dashboard's editor starts from the same spec. Flags override any field.",
        100,
    ) + ["", "Presets (--preset NAME):"]
    for name in preset_names():
        p = load_preset(name)
        lines.append(f"  {name:<18} {p.title} (about {p.budget_s:.0f} s on 2 CPU cores)")
    lines += ["", "Progress (step/total, steps/s, ETA) goes to stderr every few seconds, with --json too."]
    return "\n".join(lines)


def cmd_spec(ns) -> int:
    spec = spec_from_args(ns, SSMSpec)
    from workbench.ssm.build import build_layer

    build_layer(spec, d_model=1)  # init-dependent checks (e.g. Re A range of a reparameterization)
    print(spec.to_json())
    return 0


def cmd_serve(ns) -> int:
    from workbench.cli_serve import panel_args

    script = dashboard_script()
    args = panel_args(ns, script)
    os.environ["WORKBENCH_RUNS_DIR"] = str(Path(ns.runs_dir).resolve())
    print(f"serving the dashboard ({script}) on http://{ns.address}:{ns.port}", flush=True)
    os.execv(sys.executable, args)
    return 0


def cmd_train(ns) -> int:
    from workbench.cli_train import train_command

    return train_command(ns, given_flags(ns))


def cmd_runs(ns) -> int:
    from workbench.cli_train import runs_command

    return runs_command(ns)


def cmd_show(ns) -> int:
    from workbench.cli_train import show_command

    return show_command(ns)


def cmd_sweep(ns) -> int:
    from workbench.cli_json import dumps

    if ns.max_configs is not None and ns.max_configs < 1:
        raise SpecError("--max-configs", ns.max_configs, "an integer >= 1")
    for flag, v in (("--workers", ns.workers), ("--threads-per-worker", ns.threads_per_worker)):
        if not 1 <= v <= 256:
            raise SpecError(flag, v, "an integer in [1, 256]")
    sweep = SweepSpec.from_yaml(ns.file, max_configs=ns.max_configs)  # the size is bounded before expansion
    if ns.dry_run:  # one configuration at a time: validated, printed, dropped
        n = 0
        for swept, run in sweep.iter_configurations():
            print(dumps(swept, sort_keys=True))
            n += 1
        print(f"{n} configurations", file=sys.stderr)
        return 0
    from workbench.sweep import run_sweep

    tty = sys.stderr.isatty()
    last = [""]

    def progress(line):
        if line != last[0]:
            last[0] = line
            print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)

    out = run_sweep(sweep, ns.runs_dir, ns.scheduler, ns.workers, ns.threads_per_worker, progress)
    if tty:
        print(file=sys.stderr)
    if ns.json:
        print(dumps(out))
    else:
        for rid, r in out["runs"].items():
            print(f"{rid}  {r['status']}  {dumps(r['swept'], sort_keys=True)}")
    return 0 if all(r["status"] == "completed" for r in out["runs"].values()) else 1


def cmd_export(ns) -> int:
    from workbench.cli_export import export_command

    return export_command(ns)


def cmd_inspect(ns) -> int:
    from workbench.cli_inspect import inspect_command

    return inspect_command(ns)


def cmd_eval(ns) -> int:
    from workbench.cli_eval import eval_command

    return eval_command(ns)


def cmd_control(ns) -> int:
    from workbench.store.run import default_root
    from workbench.train import runner

    print(runner.act(ns.command, ns.run, ns.runs_dir or default_root())[0])
    return 0


COMMANDS = {
    "serve": cmd_serve,
    "spec": cmd_spec,
    "train": cmd_train,
    "runs": cmd_runs,
    "show": cmd_show,
    "sweep": cmd_sweep,
    "pause": cmd_control,
    "resume": cmd_control,
    "stop": cmd_control,
    "export": cmd_export,
    "inspect": cmd_inspect,
    "eval": cmd_eval,
}


def main(argv=None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        rc = COMMANDS[ns.command](ns)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers, not at interpreter exit
        return rc
    except SpecError as err:
        print(f"workbench: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `workbench show ID | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except OSError as err:  # the environment refused (permissions, a read-only or full disk)
        where = f": {err.filename}" if err.filename else ""
        print(f"workbench: error: {err.strerror or err}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: one line still, the traceback on request
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        print(
            f"workbench: internal error: {_one_line(err, type(err).__name__ + ': ')} "
            "(WORKBENCH_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1


def _one_line(err: BaseException, prefix: str = "") -> str:
    return (prefix + str(err)).replace("\n", " ")[:2000]


if __name__ == "__main__":
    sys.exit(main())
