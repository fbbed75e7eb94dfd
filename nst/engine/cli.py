"""``python -m nst``: stylise one content image with one style image.

Options are generated from the settings table (:mod:`nst.engine.settings`); each is
spelled with dashes, and the seed's underscore spelling is accepted too.
"""
from __future__ import annotations

import argparse
import sys

from ..errors import NSTError
from .settings import FIELDS, TYPES, Settings, default, flag


def _list_of(kind):
    def parse(text: str):
        items = [item.strip() for item in text.split(",") if item.strip()]
        try:
            return [kind(item) for item in items]
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of {kind.__name__}") from None

    parse.__name__ = f"list of {kind.__name__}"
    return parse


def _help_with_default(text: str, value, required: bool) -> str:
    """The help text plus its default, unless the text already says it or there is none."""
    if required or "default" in text or value is None or value is False:
        return text
    shown = ",".join(map(str, value)) if isinstance(value, list) else value
    return f"{text} (default: {shown})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nst",
        description="Gatys-style neural style transfer on a frozen VGG (one content image, one style image).",
    )
    groups: dict[str, argparse._ArgumentGroup] = {}
    for name, field in FIELDS.items():
        meta = field.metadata
        group = groups.setdefault(meta["group"], parser.add_argument_group(meta["group"]))
        flags = [flag(name)] + ([f"--{name}"] if "_" in name else [])
        kwargs = {"dest": name, "help": _help_with_default(meta["help"], default(name), meta["required"])}
        if TYPES[name] is bool:
            kwargs.update(action="store_true", default=default(name))
        elif meta["item"] is not None:
            kwargs.update(type=_list_of(meta["item"]), metavar="A,B,...", default=default(name))
        else:
            kwargs.update(type=TYPES[name], choices=meta["choices"], default=default(name))
        if meta["required"]:
            kwargs.update(required=True)
            kwargs.pop("default")
        group.add_argument(*flags, **kwargs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from .run import stylise  # imported late so --help stays fast

        record = stylise(Settings(**vars(args)))
    except NSTError as err:
        print(f"nst: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nst: interrupted; the newest checkpoint can be resumed with --resume", file=sys.stderr)
        return 130
    result = record.result
    print(f"{record.name}: {result['steps']} steps in {result['wall_time_s']:.1f} s, "
          f"total loss {result['final']['total_loss']:.4e}", file=sys.stderr)
    return 0
