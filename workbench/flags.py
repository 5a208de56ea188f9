"""CLI flags generated from specs: one `--<prefix>.<field>` per parameter, named after the field."""
from __future__ import annotations

import argparse

from workbench.specs import Spec, describe


def add_spec_flags(parser: argparse.ArgumentParser, spec_cls: type[Spec]) -> None:
    group = parser.add_argument_group(f"{spec_cls.__name__} ({spec_cls.prefix}.*)")
    for field, p in spec_cls.param.objects("existing").items():
        if field == "name":
            continue
        group.add_argument(f"--{spec_cls.prefix}.{field}", dest=f"{spec_cls.prefix}.{field}", default=None,
                           metavar="VALUE", help=f"{p.doc} ({describe(p)}; default {p.default!r})")


def spec_from_args(ns: argparse.Namespace, spec_cls: type[Spec]) -> Spec:
    """Build and validate a spec from parsed flags; raises SpecError on a bad value."""
    given = {k.split(".", 1)[1]: v for k, v in vars(ns).items()
             if k.startswith(spec_cls.prefix + ".") and v is not None}
    return spec_cls.from_dict(given)
