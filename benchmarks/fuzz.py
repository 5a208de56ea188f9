"""Fuzzing every CLI command's flags and every spec's `from_dict`: `python -m benchmarks.fuzz [--scale N]`.

Each case is one seeded random invocation, run in this process through `workbench.cli.main` (so a
case costs milliseconds, not an interpreter start). A case passes when it
  - exits 0 (for `train`, also 1 with the run recorded as `diverged`: a legitimate outcome), or
  - exits 2 with exactly one line on stderr, no traceback, and the runs root unchanged;
anything else (a traceback, an "internal error" line, a `failed` run, a write on refusal) is counted
as a failure with its arguments. `from_dict` cases pass when they return a valid spec or raise
SpecError. tests/test_fuzz.py runs a few hundred of these; this module runs >= 1,000 and writes
benchmarks/results/fuzz.{json,md}.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import tempfile
import time
from pathlib import Path

from workbench.specs import ModelSpec, RunSpec, SSMSpec, TaskSpec, TrainSpec

# Text a user (or a script gone wrong) may pass for any value; the largest valid integer here is 10.
NASTY = [
    "",
    " ",
    "abc",
    "-1",
    "0",
    "1",
    "2",
    "-0",
    "1e400",
    "-1e400",
    "inf",
    "-inf",
    "nan",
    "NaN",
    "1e-320",
    "0.5",
    "1.5",
    "3",
    " 7 ",
    "1_0",
    "0x10",
    "18446744073709551616",
    "9" * 40,
    "9" * 5000,
    "-9223372036854775809",
    "true",
    "false",
    "yes",
    "None",
    "null",
    "[1,2]",
    "{}",
    "ä",
    "\u202e\u0000x",
    "1,2,3",
    "../../etc",
    "/tmp",
    "s4d",
    "mamba",
    "auto",
    "cpu",
    "cuda",
    "mps",
    "bf16",
    "%s%n",
    "'\"; --",
]
PARTS = {"ssm": SSMSpec, "model": ModelSpec, "task": TaskSpec, "train": TrainSpec}
# Small enough that a valid combination trains in about a second.
TRAIN_BASE = [
    "--train.steps",
    "1",
    "--train.batch",
    "2",
    "--model.d_model",
    "4",
    "--model.n_layers",
    "1",
    "--ssm.d_state",
    "2",
    "--train.probe_every",
    "0",
    "--train.threads",
    "1",
    "--task.name",
    "adding",
    "--task.seq_len",
    "8",
    "--train.eval_every",
    "1",
    "--train.warmup",
    "0",
]


def _valid(p) -> list[str]:
    import param

    if isinstance(p, param.Selector):
        return [str(o) for o in p.objects]
    if isinstance(p, param.Boolean):
        return ["true", "false", "1", "0"]
    if isinstance(p, param.Integer) and p.bounds:
        lo = p.bounds[0] or 0
        return [str(lo), str(lo + 1), str(lo + 2)]
    if isinstance(p, param.Number):
        return [repr(p.default), "1e-3", "0.25"]
    return ["256,1024", "4,8"]


def _value(rng: random.Random, p) -> str:
    return rng.choice(_valid(p)) if rng.random() < 0.5 else rng.choice(NASTY)


def _spec_flags(rng, parts, k):
    out = []
    fields = [(part, f, p) for part in parts for f, p in PARTS[part].param.objects("existing").items() if f != "name"]
    for part, f, p in rng.sample(fields, k):
        out += [f"--{part}.{f}", _value(rng, p)]
    return out


def spec_case(rng):
    return ["spec", *_spec_flags(rng, ["ssm"], rng.randint(1, 4))]


def train_case(rng, root):
    extra = _spec_flags(rng, list(PARTS), rng.randint(1, 3))
    extra = [v if v not in ("1_0",) else "3" for v in extra]  # keep valid runs short
    flags = ["--json"] if rng.random() < 0.5 else []
    if rng.random() < 0.15:
        flags += ["--name", rng.choice(NASTY)]
    if rng.random() < 0.1:
        flags += ["--resume", rng.choice(NASTY)]
    return ["train", *TRAIN_BASE, *extra, *flags, "--runs-dir", str(root)]


def store_case(rng, root, ids):
    name = rng.choice(ids + NASTY + [str(root), str(root / ".."), "/etc", "/proc/self"])
    cmd = rng.choice(["show", "runs", "stop", "pause", "resume", "export"])
    if cmd == "runs":
        args = ["runs"] + sum(
            (
                [
                    "--where",
                    rng.choice(NASTY + ["model.layer=s4d", "layer=mamba", "=", "a=b=c", "final.mse=nan", "step=1e400"]),
                ]
                for _ in range(rng.randint(0, 2))
            ),
            [],
        )
        args += ["--json"] if rng.random() < 0.5 else []
    elif cmd == "export":
        args = [
            "export",
            name,
            "--figure",
            rng.choice(["training", "kernels", "memory"] + NASTY),
            "-o",
            rng.choice([str(root / "out"), "/proc/self", "/dev/null", "/", ""] + NASTY[:6]),
        ]
        if rng.random() < 0.5:
            args += ["--step", rng.choice(["0", "-1", "5", "x", "99999999999999999999"])]
        if rng.random() < 0.3:
            args += ["--format", rng.choice(["png", "svg", "exe", ""])]
    else:
        args = [cmd, name]
    return [*args, "--runs-dir", str(root)]


def serve_case(rng):
    args = [
        "serve",
        "--port",
        rng.choice(["5006", "0", "65536", "-1", "80", "x"]),
        "--address",
        rng.choice(["127.0.0.1", "0.0.0.0", "::1", "localhost", "no.such.host.invalid", "", "::"]),
    ]
    if rng.random() < 0.5:
        args += ["--allow-websocket-origin", rng.choice(["lab.example.org:443", "bad origin", "*", ""])]
    if rng.random() < 0.4:
        args += ["--basic-auth", rng.choice(["secret", "", " "])]
    if rng.random() < 0.3:
        args += ["--cookie-secret", rng.choice(["abc", ""])]
    return args


def random_json(rng, depth=0):
    kinds = ["int", "bigint", "float", "inf", "nan", "str", "bool", "none"] + (["list", "dict"] if depth < 2 else [])
    k = rng.choice(kinds)
    return {
        "int": lambda: rng.randint(-5, 70000),
        "bigint": lambda: rng.choice([2**63, 2**64, -(2**63) - 1, 10**400]),
        "float": lambda: rng.uniform(-10, 10),
        "inf": lambda: float("inf"),
        "nan": lambda: float("nan"),
        "str": lambda: rng.choice(NASTY),
        "bool": lambda: rng.random() < 0.5,
        "none": lambda: None,
        "list": lambda: [random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))],
        "dict": lambda: {rng.choice(["a", "n", "space", "1"]): random_json(rng, depth + 1)},
    }[k]()


def sweep_case(rng, folder):
    fields = ["ssm.init", "train.seed", "ssm.dt_min", "model.layer", "nope.field", "ssm", 1, "task.name"]
    d = {}
    if rng.random() < 0.8:
        d["base"] = rng.choice(
            [
                {"model": {"layer": "s4d"}},
                {"model": "s4d"},
                [],
                {"train": {"steps": "x"}},
                {"bogus": {}},
                random_json(rng),
            ]
        )
    if rng.random() < 0.8:
        d["grid"] = rng.choice(
            [
                {rng.choice(fields): [random_json(rng) for _ in range(rng.randint(0, 3))]},
                ["ssm.init"],
                {"train.seed": list(range(rng.choice([2, 10, 2000])))},
                {"ssm.init": ["s4d-lin", "s4d-inv"]},
                random_json(rng),
            ]
        )
    if rng.random() < 0.6:
        d["random"] = {
            "n": rng.choice([1, 3, 0, -1, "many", 10**8, 2.5, True]),
            "seed": rng.choice([0, -1, 2**70, "s"]),
            "space": {
                rng.choice(fields): rng.choice(
                    [
                        {"uniform": [0.001, 0.01]},
                        {"log_uniform": [0, 1]},
                        {"uniform": [1]},
                        {"int": [0, 3]},
                        [1, 2],
                        [],
                        {"int": [0.5, 2]},
                        random_json(rng),
                    ]
                )
            },
        }
    if rng.random() < 0.2:
        d[rng.choice(["name", "extra"])] = random_json(rng)
    path = Path(folder) / "sweep.yaml"
    import yaml

    text = yaml.safe_dump(d) if rng.random() < 0.9 else rng.choice(["a: [", "- 1\n- 2", "\0", "base: {model: s4d}"])
    path.write_text(text)
    return ["sweep", str(path), "--dry-run"] + (
        ["--max-configs", rng.choice(["5", "0", "100000"])] if rng.random() < 0.3 else []
    )


def from_dict_case(rng):
    d = {}
    for _ in range(rng.randint(0, 4)):
        part = rng.choice(list(PARTS) + ["junk"])
        fields = list(PARTS.get(part, SSMSpec).param) + ["nope"]
        if rng.random() < 0.1:
            d[part] = random_json(rng)
        else:
            d.setdefault(part, {})
            if isinstance(d[part], dict):
                for _ in range(rng.randint(1, 3)):
                    f = rng.choice(fields)
                    p = PARTS.get(part, SSMSpec).param[f] if f in PARTS.get(part, SSMSpec).param else None
                    d[part][f] = rng.choice([random_json(rng), _value(rng, p) if p is not None else "x"])
    return d if rng.random() > 0.03 else random_json(rng)


def _snapshot(root: Path):
    # SQLite's own -wal/-shm bookkeeping (a reader may create them) is not a write of ours
    return (
        sorted(
            str(p.relative_to(root))
            for p in root.rglob("*")
            if "index.sqlite" not in p.name and not p.name.endswith(("-wal", "-shm"))
        )
        if root.exists()
        else []
    )


def run_cli(args) -> tuple[int | str, str, str]:
    """`workbench.cli.main(args)` in this process: (exit code, stdout, stderr); an exception that escapes
    main is printed to the captured stderr and its exit code is "raised <type>"."""
    from workbench.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(args)
        except SystemExit as e:  # argparse
            rc = e.code if isinstance(e.code, int) else 2
        except BaseException as e:  # noqa: BLE001  anything escaping main is a failure to report
            import traceback

            traceback.print_exc()
            rc = f"raised {type(e).__name__}"
    return rc, out.getvalue(), err.getvalue()


def refusal_fault(rc, err: str) -> str | None:
    """Why (exit code, stderr) is not a clean refusal: exit 2, exactly one stderr line, no traceback.
    None when it is one."""
    if "Traceback" in err or "internal error" in err:
        return f"traceback/internal error: {err.strip()[-300:]}"
    if rc != 2:
        return f"exit {rc}: {err.strip()[-300:]}"
    n = len(err.strip().splitlines())
    return None if n == 1 else f"exit 2 with {n} stderr lines: {err[:300]}"


def check_cli(args, root: Path | None) -> tuple[object, str | None]:
    """(exit code, None when the case passes else why)."""
    before = _snapshot(root) if root else None
    rc, out, err = run_cli(args)
    if rc == 2 or "Traceback" in err or "internal error" in err:
        why = refusal_fault(rc, err)
        if why is None and root is not None and _snapshot(root) != before:
            why = "exit 2 but the runs root changed"
        return rc, why
    if rc == 0:
        if "--json" in args and out.strip():
            try:
                json.loads(out.strip().splitlines()[-1], parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
            except ValueError as e:
                return rc, f"--json printed invalid JSON ({e}): {out[:200]}"
        return rc, None
    if rc == 1 and args[0] == "train":
        from workbench.store import list_runs

        df = list_runs(root)
        if len(df) and df.sort_values("created").iloc[-1]["status"] == "diverged":
            return rc, None
    return rc, f"exit {rc}: {err.strip()[-300:]}"


def _refused(d) -> bool:
    from workbench.errors import SpecError

    try:
        RunSpec.from_dict(d)
        return False
    except SpecError:
        return True


def check_from_dict(d) -> str | None:
    from workbench.errors import SpecError

    try:
        RunSpec.from_dict(d).validate()
    except SpecError as e:
        return None if "\n" not in str(e) else "multi-line SpecError"
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {e}"[:300]
    return None


def fuzz(n: dict, seed: int = 0, log=None) -> dict:
    """Run n[kind] cases of each kind; {kind: {"cases", "passed", "exit0", "exit2", "failures": [...]}}."""
    import torch

    torch.set_num_threads(1)
    os.environ.pop("WORKBENCH_DEBUG", None)
    rng = random.Random(seed)
    report = {}
    execv, os.execv = os.execv, lambda *a: None  # `serve` must not replace this process
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "runs"
            # a store to aim at: one finished run
            from workbench.cli import main

            if {"train", "store"} & set(n):
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    main(["train", *TRAIN_BASE, "--runs-dir", str(root)])
            ids = [p.name for p in root.iterdir() if p.is_dir()] if root.exists() else []
            makers = {
                "spec": lambda: spec_case(rng),
                "train": lambda: train_case(rng, root),
                "store": lambda: store_case(rng, root, ids),
                "serve": lambda: serve_case(rng),
                "sweep": lambda: sweep_case(rng, tmp),
            }
            for kind, count in n.items():
                r = report[kind] = {"cases": 0, "passed": 0, "exit0": 0, "exit2": 0, "failures": []}
                t0 = time.perf_counter()
                for _ in range(count):
                    if kind == "from_dict":
                        case = from_dict_case(rng)
                        why = check_from_dict(case)
                        rc = 2 if why is None and _refused(case) else 0
                        args = [repr(case)[:200]]
                    else:
                        args = makers[kind]()
                        rc, why = check_cli(args, root if kind in ("train", "store") else None)
                    r["exit0"] += rc == 0
                    r["exit2"] += rc == 2
                    r["cases"] += 1
                    r["passed"] += why is None
                    if why is not None:
                        r["failures"].append({"args": args, "why": why})
                r["wall_s"] = round(time.perf_counter() - t0, 2)
                if log:
                    log(f"{kind}: {r['passed']}/{r['cases']} passed in {r['wall_s']} s")
    finally:
        os.execv = execv
    return report


def main() -> None:
    import argparse

    from benchmarks.harness import RESULTS, machine

    parser = argparse.ArgumentParser(prog="benchmarks.fuzz")
    parser.add_argument("--scale", type=int, default=1, help="multiply every kind's number of cases")
    parser.add_argument("--only", default="", help="comma-separated kinds (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    ns = parser.parse_args()
    n = {"spec": 400, "train": 300, "store": 300, "serve": 100, "sweep": 300, "from_dict": 3000}
    n = {k: v * ns.scale for k, v in n.items() if not ns.only or k in ns.only.split(",")}
    rep = fuzz(n, seed=ns.seed, log=lambda line: print(line, flush=True))
    total = sum(r["cases"] for r in rep.values())
    failed = sum(len(r["failures"]) for r in rep.values())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fuzz.json").write_text(json.dumps({"machine": machine(), "report": rep}, indent=1, default=str))
    lines = [
        f"Fuzz run on {machine()}",
        "",
        "| kind | cases | passed | accepted (exit 0) | refused (exit 2, one line) | failures | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {k} | {r['cases']} | {r['passed']} | {r['exit0']} | {r['exit2']} | {len(r['failures'])} | {r['wall_s']} |"
        for k, r in rep.items()
    ]
    lines += ["", f"total: {total} cases, {failed} failures (tracebacks, bad exits, writes on refusal)"]
    for k, r in rep.items():
        for f in r["failures"][:5]:
            lines.append(f"- {k}: `{' '.join(map(str, f['args']))[:200]}`: {f['why'][:200]}")
    (RESULTS / "fuzz.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
