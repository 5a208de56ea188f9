"""The shipped example runs (data/example_runs in a source checkout): finished runs every door can
show without training first. They are read-only: listed beside a store's runs, opened by id when
the store has no run of that id, never written (eval and resume stay inside the runs root)."""

from __future__ import annotations

from pathlib import Path

from workbench.errors import SpecError
from workbench.store.index import flatten
from workbench.store.root import open_run
from workbench.store.run import Run

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "example_runs"  # absent in a wheel: no examples


def example_ids() -> list[str]:
    return [p.parent.name for p in sorted(EXAMPLES.glob("*/spec.json"))]


def example_runs() -> list[dict]:
    """Index rows of the example runs, read from their folders (nothing is written there)."""
    rows = []
    for name in example_ids():
        try:
            r = open_run(name, EXAMPLES)
            m, last = r.meta, r.last_step
        except SpecError:  # a damaged example is listed as such, the others still shown
            rows.append({"id": name, "name": name, "status": "damaged", "step": -1})
            continue
        rows.append(
            {
                "id": r.id,
                "name": m.get("name", r.id),
                "status": m.get("status", "?"),
                "step": last,
                "created": m.get("created", 0.0),
                **flatten(r.spec),
                **{f"final.{k}": v for k, v in (m.get("final_metrics") or {}).items()},
            }
        )
    return rows


def open_readable(id_or_path, root) -> Run:
    """A run of the store, or else the example run of that id (for commands that only read)."""
    try:
        return open_run(id_or_path, root)
    except SpecError:
        if isinstance(id_or_path, str) and id_or_path in example_ids():
            return open_run(id_or_path, EXAMPLES)
        raise
