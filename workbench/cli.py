"""`workbench` command line. User errors print one line and exit 2, never a traceback."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from workbench.errors import SpecError
from workbench.flags import add_spec_flags, spec_from_args
from workbench.specs import SSMSpec

DASHBOARD = Path(__file__).resolve().parents[1] / "apps" / "dashboard.py"


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
    spec = sub.add_parser("spec", help="validate settings and print the spec as JSON")
    add_spec_flags(spec, SSMSpec)
    return parser


def cmd_spec(ns) -> int:
    spec = spec_from_args(ns, SSMSpec)
    from workbench.ssm.build import build_layer
    build_layer(spec, d_model=1)  # init-dependent checks (e.g. Re A range of a reparameterization)
    print(spec.to_json())
    return 0


def cmd_serve(ns) -> int:
    if not 0 < ns.port < 65536:
        raise SpecError("--port", ns.port, "an integer in [1, 65535]")
    if not DASHBOARD.exists():
        raise SpecError("dashboard", str(DASHBOARD), "a source checkout that has apps/dashboard.py")
    os.environ["WORKBENCH_RUNS_DIR"] = str(Path(ns.runs_dir).resolve())
    args = [sys.executable, "-m", "panel", "serve", str(DASHBOARD), "--port", str(ns.port),
            "--address", ns.address, "--allow-websocket-origin", f"{ns.address}:{ns.port}",
            "--allow-websocket-origin", f"localhost:{ns.port}"]
    if ns.show:
        args.append("--show")
    print(f"serving the dashboard on http://{ns.address}:{ns.port}", flush=True)
    os.execv(sys.executable, args)
    return 0


COMMANDS = {"serve": cmd_serve, "spec": cmd_spec}


def main(argv=None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        return COMMANDS[ns.command](ns)
    except SpecError as err:
        print(f"workbench: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
