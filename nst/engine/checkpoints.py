"""Checkpoints: everything needed to continue a run bit for bit.

A checkpoint holds the image, the optimiser state, the RNG states, the step, the CSV
rows so far, the elapsed time and a fingerprint of the settings and input hashes: only
tensors and plain values, so it loads with ``weights_only=True`` and a file planted in a
shared results folder cannot run code on ``--resume``.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from ..atomic import atomic_path, remove_leftovers
from ..errors import NSTError

NAME = re.compile(r"ckpt_(\d{6,})\.pt")
# Part of every fingerprint: checkpoints of an older layout (e.g. torch's L-BFGS state)
# count as made with other settings instead of failing to load.
FORMAT = 2


def fingerprint(fields: dict) -> str:
    """Hash of the settings and input hashes that shape the trajectory (``fields`` includes ``FORMAT``)."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Checkpoint:
    path: Path
    state: dict

    @property
    def step(self) -> int:
        return self.state["step"]


def save(directory: Path, state: dict, keep_max: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    remove_leftovers(directory, "ckpt_*.pt")  # a writer killed mid-save
    path = directory / f"ckpt_{state['step']:06d}.pt"
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(state, handle)
        # On disk before the rename: after a crash of the node the name never points at a torn file.
        handle.flush()
        os.fsync(handle.fileno())
    for old in list_checkpoints(directory)[max(1, keep_max):]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(directory: Path) -> list[Path]:
    """Checkpoint files, newest step first."""
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := NAME.fullmatch(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def load(path: Path, option: str = "--resume-from") -> Checkpoint:
    """``option``: the flag that named the file, for the message when there is none."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise NSTError(f"{option}: {path}: no such file") from None
    except pickle.UnpicklingError as err:
        if "weights only" not in str(err).lower():  # torch's words for a refused object
            raise NSTError(f"{path}: unreadable checkpoint (UnpicklingError: {str(err).splitlines()[0]})") from None
        raise NSTError(f"{path}: refused: it holds pickled Python objects, not only tensors and plain values "
                       "(not a checkpoint written by nst; loading it could run code)") from None
    except Exception as err:
        raise NSTError(f"{path}: unreadable checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(state, dict) or "fingerprint" not in state:
        raise NSTError(f"{path}: not a checkpoint written by nst")
    return Checkpoint(Path(path), state)


def differences(state: dict, fields: dict) -> list[str]:
    """Names of the settings/inputs in which a checkpoint differs from this run."""
    theirs = state.get("fingerprint_fields", {})
    return sorted(k for k in set(theirs) | set(fields) if theirs.get(k) != fields.get(k))


def find_resumable(directory: Path, fields: dict, on_mismatch: str, max_step: int) -> Checkpoint | None:
    """The newest checkpoint at or before ``max_step`` whose fingerprint matches; None if none.

    Checkpoints past ``max_step`` (a run asked for fewer steps than before) are left alone.
    One that cannot be read (torn by a full disk, damaged) is named on stderr with the reason
    and moved aside (``*.damaged``, out of the rotation); the one before it is tried next.

    Checkpoints of other settings are refused with a message naming what differs, or,
    with on_mismatch="restart", deleted so the run starts afresh.
    """
    wanted = fingerprint(fields)
    others = []
    for path in list_checkpoints(directory):
        if int(NAME.fullmatch(path.name).group(1)) > max_step:
            continue
        try:
            checkpoint = load(path)
        except NSTError as err:
            aside = path.with_name(path.name + ".damaged")
            path.replace(aside)
            print(f"nst: warning: {str(err).splitlines()[0]}; moved aside to {aside.name}, trying the previous "
                  "checkpoint", file=sys.stderr, flush=True)
            continue
        if checkpoint.state["fingerprint"] == wanted:
            return checkpoint
        others.append(checkpoint)
    if others and on_mismatch == "refuse":
        what = ", ".join(differences(others[0].state, fields))
        raise NSTError(
            f"--resume: the checkpoints in {directory} were made with other settings or inputs "
            f"(differs in: {what}); use another --ckpt-dir, or --on-mismatch restart to discard them"
        )
    for checkpoint in others:
        checkpoint.path.unlink(missing_ok=True)
    return None


def rng_states(device: torch.device) -> dict:
    states = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def restore_rng_states(states: dict, device: torch.device) -> None:
    torch.set_rng_state(states["torch"])
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)
