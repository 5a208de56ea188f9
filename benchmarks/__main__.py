"""`python -m benchmarks [--quick]`: run every case, print the Markdown table, save JSON and Markdown."""
from __future__ import annotations

import argparse

import torch

from benchmarks import kernel, scan
from benchmarks.harness import write_report


def main() -> None:
    parser = argparse.ArgumentParser(prog="benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--only", choices=["scan", "kernel"], help="one group of cases")
    ns = parser.parse_args()
    torch.manual_seed(0)
    rows = []
    for name, mod in (("scan", scan), ("kernel", kernel)):
        if ns.only in (None, name):
            rows += mod.run(quick=ns.quick)
    print(write_report(rows, "quick" if ns.quick else "latest"))


if __name__ == "__main__":
    main()
