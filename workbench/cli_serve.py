"""`workbench serve`: the arguments of `panel serve`, checked; secrets passed through the environment.

Loopback by default. On any other address the dashboard (which can start, stop and delete runs) is
open to whoever reaches the port, so we warn unless a password is set, and add the machine's own
names and addresses to the websocket allowlist (else a remote browser gets a blank page).
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import socket
import sys
from pathlib import Path

from workbench.errors import SpecError

ORIGIN_RE = re.compile(r"^[A-Za-z0-9.\-\[\]:*]+$")


def loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def own_names(port: int) -> list[str]:
    """hostname, FQDN and every address they resolve to, as HOST:PORT origins."""
    names = {socket.gethostname(), socket.getfqdn()}
    for n in list(names):
        try:
            names |= {ai[4][0] for ai in socket.getaddrinfo(n, None)}
        except OSError:
            pass
    return [f"[{n}]:{port}" if ":" in n else f"{n}:{port}" for n in sorted(names) if n]


def panel_args(ns, dashboard: Path) -> list[str]:
    """argv for `python -m panel serve`; sets PANEL_BASIC_AUTH / PANEL_COOKIE_SECRET in os.environ."""
    if not 0 < ns.port < 65536:
        raise SpecError("--port", ns.port, "an integer in [1, 65535]")
    if not dashboard.exists():
        raise SpecError(
            "dashboard", str(dashboard), "an installed ssm-workbench or a source checkout with apps/dashboard.py"
        )
    try:
        socket.getaddrinfo(ns.address, ns.port)
    except (OSError, UnicodeError):
        raise SpecError("--address", ns.address, "an address or host name of this machine, e.g. 127.0.0.1") from None
    for o in ns.allow_websocket_origin:
        if not ORIGIN_RE.match(o):
            raise SpecError("--allow-websocket-origin", o, "HOST or HOST:PORT, e.g. lab.example.org:443")
    origins = [f"{ns.address}:{ns.port}", f"localhost:{ns.port}", f"127.0.0.1:{ns.port}"]
    if not loopback(ns.address):
        origins += own_names(ns.port)
    origins += ns.allow_websocket_origin
    args = [sys.executable, "-m", "panel", "serve", str(dashboard), "--port", str(ns.port), "--address", ns.address]
    for o in dict.fromkeys(origins):
        args += ["--allow-websocket-origin", o]
    auth = ns.basic_auth or os.environ.get("WORKBENCH_BASIC_AUTH")
    if auth:
        if not auth.strip():
            raise SpecError("--basic-auth", auth, "a non-empty password, or a JSON file of {user: password}")
        os.environ["PANEL_BASIC_AUTH"] = auth  # not on argv: `ps` would show it
        os.environ["PANEL_COOKIE_SECRET"] = (
            ns.cookie_secret or os.environ.get("WORKBENCH_COOKIE_SECRET") or secrets.token_urlsafe(32)
        )
    elif ns.cookie_secret:
        raise SpecError("--cookie-secret", "***", "only with --basic-auth (it signs the login cookie)")
    if not loopback(ns.address):
        print(
            f"WARNING: serving on {ns.address}, reachable from other machines; "
            + (
                "password required (basic auth) but the connection is plain HTTP: put it behind an HTTPS "
                "reverse proxy (docs/reliability.md)."
                if auth
                else "ANYONE who reaches this port can start, stop and delete runs. Use --basic-auth, and an "
                "HTTPS reverse proxy (docs/reliability.md)."
            ),
            file=sys.stderr,
            flush=True,
        )
    if ns.show:
        args.append("--show")
    return args
