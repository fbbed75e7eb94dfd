"""``python -m nst``: stylise one content image with one style image.

Options are generated from :class:`nst.settings.Settings`; each is spelled with dashes,
and the seed's underscore spelling is accepted too.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import typing

from .errors import NSTError
from .settings import Settings

REQUIRED = {"content", "style", "output_dir"}


def _list_of(kind):
    def parse(text: str):
        items = [item.strip() for item in text.split(",") if item.strip()]
        try:
            return [kind(item) for item in items]
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of {kind.__name__}") from None

    parse.__name__ = f"list of {kind.__name__}"
    return parse


def _help_with_default(text: str, default, name: str) -> str:
    """The help text plus its default, unless the text already says it or there is none."""
    if name in REQUIRED or "default" in text or default is None or default is False:
        return text
    shown = ",".join(map(str, default)) if isinstance(default, list) else default
    return f"{text} (default: {shown})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nst",
        description="Gatys-style neural style transfer on a frozen VGG (one content image, one style image).",
    )
    groups: dict[str, argparse._ArgumentGroup] = {}
    hints = typing.get_type_hints(Settings)
    for field in dataclasses.fields(Settings):
        meta = field.metadata
        group = groups.setdefault(meta["group"], parser.add_argument_group(meta["group"]))
        flags = [f"--{field.name.replace('_', '-')}"]
        if "_" in field.name:
            flags.append(f"--{field.name}")
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        kwargs = {"dest": field.name, "help": _help_with_default(meta["help"], default, field.name), "default": default}
        if hints[field.name] is bool:
            kwargs["action"] = "store_true"
        else:
            kind = hints[field.name]
            if kind is list:
                kind = float if field.name == "style_layer_weights" else str
                kwargs["type"] = _list_of(kind)
                kwargs["metavar"] = "A,B,..."
            else:
                kwargs["type"] = kind
            if meta["choices"]:
                kwargs["choices"] = meta["choices"]
            if field.name in REQUIRED:
                kwargs["required"] = True
                kwargs.pop("default")
        group.add_argument(*flags, **kwargs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from .engine import stylise  # imported late so --help stays fast

        record = stylise(Settings(**vars(args)))
    except NSTError as err:
        print(f"nst: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nst: interrupted; the newest checkpoint can be resumed with --resume", file=sys.stderr)
        return 130
    result = record["result"]
    print(f"{record['name']}: {result['steps']} steps in {result['wall_time_s']:.1f} s, "
          f"total loss {result['final']['total_loss']:.4e}", file=sys.stderr)
    return 0
