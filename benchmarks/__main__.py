"""`python -m benchmarks [--quick]`: run every case, print the Markdown table, save JSON and Markdown."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from benchmarks import cli_train, kernel, model, preview, scaling, scan
from benchmarks.harness import RESULTS, write_report

CHROMIUM = "/usr/bin/chromium"


def main() -> None:
    parser = argparse.ArgumentParser(prog="benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument(
        "--only",
        choices=["scan", "model", "kernel", "scaling", "preview", "cli", "dashboard"],
        help="one group of cases",
    )
    ns = parser.parse_args()
    torch.manual_seed(0)
    rows = []
    for name, mod in (
        ("scan", scan),
        ("model", model),
        ("kernel", kernel),
        ("scaling", scaling),
        ("preview", preview),
        ("cli", cli_train),
    ):
        if ns.only in (None, name):
            rows += mod.run(quick=ns.quick)
    name = "quick" if ns.quick else "latest" + (f"-{ns.only}" if ns.only else "")
    text = write_report(rows, name) if rows else ""
    if not ns.quick and ns.only in (None, "dashboard"):
        # the dashboard's knob latency and live overhead, in the same report
        if Path(CHROMIUM).exists():
            from benchmarks import dashboard

            text += "\n" + dashboard.run()
        else:
            text += f"\nDashboard: not measured ({CHROMIUM} missing: apt-get install -y chromium).\n"
        if name.startswith("latest"):
            (RESULTS / f"{name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
