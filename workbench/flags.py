"""CLI flags generated from specs: one `--<prefix>.<field>` per parameter, named after the field."""

from __future__ import annotations

import argparse

from workbench.specs import Spec, describe


def add_spec_flags(parser: argparse.ArgumentParser, spec_cls: type[Spec], defaults: dict | None = None) -> None:
    """`defaults` ({'train.steps': 600}) overrides the defaults the help states (a preset's values)."""
    group = parser.add_argument_group(f"{spec_cls.__name__} ({spec_cls.prefix}.*)")
    for field, p in spec_cls.param.objects("existing").items():
        if field == "name":
            continue
        key = f"{spec_cls.prefix}.{field}"
        default = (defaults or {}).get(key, p.default)
        group.add_argument(
            f"--{key}", dest=key, default=None, metavar="VALUE", help=f"{p.doc} ({describe(p)}; default {default!r})"
        )


ALIASES = {"task.name": "task.kind"}  # param reserves `name`, so the task's field is `kind`


def add_run_flags(parser: argparse.ArgumentParser, defaults: dict | None = None) -> None:
    from workbench.specs import RunSpec

    for cls in RunSpec.PARTS.values():
        add_spec_flags(parser, cls, defaults)
    for alias, field in ALIASES.items():
        parser.add_argument(f"--{alias}", dest=field, default=None, metavar="VALUE", help=f"same as --{field}")


def given_flags(ns: argparse.Namespace) -> dict:
    """{'model': {'layer': 'mamba'}, ...} from the flags actually given."""
    from workbench.specs import RunSpec

    out = {}
    for key, v in vars(ns).items():
        if v is not None and "." in key and key.split(".", 1)[0] in RunSpec.PARTS:
            part, field = key.split(".", 1)
            out.setdefault(part, {})[field] = v
    return out


def spec_from_args(ns: argparse.Namespace, spec_cls: type[Spec]) -> Spec:
    """Build and validate a spec from parsed flags; raises SpecError on a bad value."""
    given = {
        k.split(".", 1)[1]: v for k, v in vars(ns).items() if k.startswith(spec_cls.prefix + ".") and v is not None
    }
    return spec_cls.from_dict(given)
