"""A served dashboard for the browser tests and the dashboard benchmark: a free loopback port, the
server as a subprocess, the first HTTP 200 awaited, and the process stopped by its pid afterwards.

`served()` takes the command as a function of the port, so the same wait and stop serve
`panel serve apps/dashboard.py` (the default), `workbench serve` from an installed wheel, or either
wrapped in `unshare` for a read-only mount.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright drives it, never a downloaded browser
# headless, and nothing that would reach the internet on its own
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def panel_serve(port: int) -> list[str]:
    """`panel serve` of the checkout's dashboard on loopback (run from the repository root)."""
    return [
        sys.executable,
        "-m",
        "panel",
        "serve",
        "apps/dashboard.py",
        "--port",
        str(port),
        "--address",
        "127.0.0.1",
        "--allow-websocket-origin",
        f"127.0.0.1:{port}",
    ]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    page: str  # the body of the first 200 answer


def _tail(log: Path | None) -> str:
    return log.read_text()[-3000:] if log is not None and log.exists() else ""


@contextlib.contextmanager
def served(
    runs: Path | None = None,
    command: Callable[[int], list[str]] = panel_serve,
    *,
    cwd: Path = ROOT,
    env: dict | None = None,
    log: Path | None = None,
    timeout: float = 120.0,
) -> Iterator[Server]:
    """Serve the dashboard until the block ends; `runs` becomes WORKBENCH_RUNS_DIR, `log` collects the
    server's output (discarded when None). Fails with the log's tail when the server exits or never answers."""
    env = dict(os.environ if env is None else env)
    if runs is not None:
        env["WORKBENCH_RUNS_DIR"] = str(runs)
    port = free_port()
    url = f"http://127.0.0.1:{port}/dashboard"
    with open(log, "w") if log is not None else open(os.devnull, "w") as out:
        proc = subprocess.Popen(command(port), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {proc.returncode}: {_tail(log)}")
                try:
                    with urllib.request.urlopen(url, timeout=90) as r:  # a GET builds a whole session
                        if r.status == 200:
                            page = r.read().decode()
                            break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{url} did not answer in {timeout:g} s: {_tail(log)}") from None
                    time.sleep(0.3)
            yield Server(url, proc, page)
        finally:
            proc.terminate()  # `workbench serve` execs panel in place: this pid is the server's own
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
