"""``python -m nst``: stylise one content image with one style image (or a blend of several).

Options are generated from the settings table (:mod:`nst.engine.settings`); each is
spelled with dashes, and the seed's underscore spelling is accepted too. Seed 002's
command line works as written: its flags that are not settings of their own
(:data:`SEED_SHORTHANDS`) are turned into settings after parsing.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import NSTError
from ..layout import default_run_name
from .settings import FIELDS, TYPES, Settings, default, flag, split_style_files
from .stopping import Interrupted

# Seed 002's flags that stand for other settings: (flag, argparse keywords, help).
SEED_SHORTHANDS = [
    ("--output", {"metavar": "FILE"}, "seed 002's way to name outputs: FILE's folder is the output folder and "
     "every file name starts with FILE's stem, then the content and style stems (--output run0/result.png "
     "writes run0/result_<content>_<style>_final.png); replaces --output-dir and --name"),
    ("--ckpt_in", {"metavar": "DIR"}, "seed 002's checkpoint folder to restore from: --ckpt-dir DIR --resume"),
    ("--optim", {"action": "store_true"}, "seed 002's Lipschitz estimate at every logged step: "
     "--lipschitz-every set to --log-every"),
]
# Settings whose command-line value needs more than splitting at commas.
PARSERS = {"style": split_style_files}


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
    text = text.replace("%", "%%")  # argparse formats help with %
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
        kwargs = {"dest": name, "help": _help_with_default(meta["help"], default(name), meta["required"])}
        if TYPES[name] is bool:
            kwargs.update(action="store_true", default=default(name))
        elif name in PARSERS:
            kwargs.update(type=PARSERS[name], metavar="FILE[,FILE...]", default=default(name))
        elif meta["item"] is not None:
            kwargs.update(type=_list_of(meta["item"]), metavar="A,B,...", default=default(name))
        else:
            kwargs.update(type=TYPES[name], choices=meta["choices"], default=default(name))
        if meta["required"] and name != "output_dir":  # --output may stand for it
            kwargs.update(required=True)
            kwargs.pop("default")
        group.add_argument(*spellings(name), **kwargs)
    seed = parser.add_argument_group("seed 002's spellings")
    for option, kwargs, text in SEED_SHORTHANDS:
        seed.add_argument(option, dest=option.lstrip("-"), help=text, **kwargs)
    return parser


def spellings(name: str) -> list[str]:
    """Every command-line spelling of a setting: dashes, the seed's underscores, aliases."""
    names = [flag(name)] + ([f"--{name}"] if "_" in name else [])
    return names + [alias for alias in FIELDS[name].metadata["aliases"] if alias not in names]


def settings_from_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> Settings:
    """Parse ``argv`` and turn seed 002's shorthands into the settings they stand for."""
    values = vars(parser.parse_args(argv))
    output, ckpt_in, optim = values.pop("output"), values.pop("ckpt_in"), values.pop("optim")
    if output is not None:
        if values["output_dir"] is not None or values["name"] is not None:
            parser.error("--output names the output folder and files itself: give it without --output-dir and --name")
        path = Path(output)
        values["output_dir"] = str(path.parent)
        values["name"] = f"{path.stem}_{default_run_name(values['content'], values['style'])}"
    elif values["output_dir"] is None:
        parser.error("one of the arguments --output-dir or --output is required")
    if ckpt_in is not None:
        if values["ckpt_dir"] not in (None, ckpt_in):
            parser.error("--ckpt_in and --ckpt-dir name different folders: give one")
        values.update(ckpt_dir=ckpt_in, resume=True)
    if optim and not values["lipschitz_every"]:
        values["lipschitz_every"] = values["log_every"]
    return Settings(**values)


def main(argv: list[str] | None = None) -> int:
    """The exit status: 0, 1 for an error, 128 + the signal's number for a stop by a signal
    (143 SIGTERM, 130 SIGINT), as a shell reports a process the signal killed."""
    settings = settings_from_args(build_parser(), argv)
    try:
        from .run import stylise  # imported late so --help stays fast

        record = stylise(settings)
    except NSTError as err:
        print(f"nst: error: {err}", file=sys.stderr)
        return 1
    except Interrupted as err:  # the run's own line: the step, the checkpoint, how to resume
        print(f"nst: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:  # Ctrl-C before the run began (while torch is imported)
        print("nst: interrupted; the newest checkpoint can be resumed with --resume", file=sys.stderr)
        return 130
    result = record.result
    print(f"{record.name}: {result['steps']} steps in {result['wall_time_s']:.1f} s, "
          f"total loss {result['final']['total_loss']:.4e}", file=sys.stderr)
    return 0


def leave(status: int) -> None:
    """End ``python -m nst`` with ``status`` without tearing the interpreter down: destroying
    torch's modules one by one took about a second of every job. Nothing is left to flush but
    the standard streams: every file the engine writes is complete and renamed into place
    before :func:`main` returns."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
