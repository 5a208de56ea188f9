"""`python -m benchmarks [--quick]`: run every case, print the Markdown table, save JSON and Markdown."""
from __future__ import annotations

import argparse

import torch

from benchmarks import kernel, model, preview, scaling, scan
from benchmarks.harness import write_report


def main() -> None:
    parser = argparse.ArgumentParser(prog="benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--only", choices=["scan", "model", "kernel", "scaling", "preview"], help="one group of cases")
    ns = parser.parse_args()
    torch.manual_seed(0)
    rows = []
    for name, mod in (("scan", scan), ("model", model), ("kernel", kernel), ("scaling", scaling), ("preview", preview)):
        if ns.only in (None, name):
            rows += mod.run(quick=ns.quick)
    name = "quick" if ns.quick else "latest" + (f"-{ns.only}" if ns.only else "")
    print(write_report(rows, name))


if __name__ == "__main__":
    main()
