"""Argparse value types that check a flag before any model is loaded or file written.

Each raises `argparse.ArgumentTypeError`, so a bad value ends in argparse's own one-line
error in the flag's words (`argument --batch-size: must be a positive integer, got 0`).
No torch here: the parser is built from these without importing the model stack.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def positive_int(text: str) -> int:
    """An integer >= 1 (batch sizes, sample counts, token budgets, limits)."""
    value = _parse(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (rounds, top-k where 0 turns it off)."""
    value = _parse(text, int, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (temperature, where 0 is greedy)."""
    value = _parse(text, float, "a number")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (learning rates, sampling temperatures that must sample)."""
    value = _parse(text, float, "a number")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def probability(text: str) -> float:
    """A number in (0, 1] (top-p: 0 would keep no token)."""
    value = _parse(text, float, "a number")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def fraction(text: str) -> float:
    """A number in [0, 1] (min-p, where 0 turns it off)."""
    value = _parse(text, float, "a number")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


PENALTY_LIMIT = 2.0  # presence and frequency penalties lie in [-2, 2], as OpenAI's API accepts them


def penalty(text: str) -> float:
    """A number in [-2, 2] (presence and frequency penalties, where 0 turns them off)."""
    value = _parse(text, float, "a number")
    if not -PENALTY_LIMIT <= value <= PENALTY_LIMIT:
        raise argparse.ArgumentTypeError(f"must be in [-2, 2], got {text}")
    return value


def input_file(text: str) -> Path:
    """An existing regular file (a dataset, results or metrics file)."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a directory; expected a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{path} does not exist")
    return path


def output_file(text: str) -> Path:
    """A file this process can create or overwrite (its missing parent directories included)."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a directory; expected a file name")
    return _writable(path)


def output_dir(text: str) -> Path:
    """A directory this process can create or write into."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a file; expected a directory")
    return _writable(path)


def _writable(path: Path) -> Path:
    """`path` if the nearest existing ancestor is a directory we may write in (and `path`, if it
    exists, is writable); else why not, naming the ancestor at fault."""
    if path.exists():
        if not os.access(path, os.W_OK):
            raise argparse.ArgumentTypeError(f"{path} is not writable (permission denied)")
        return path
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise argparse.ArgumentTypeError(f"cannot create {path}: {ancestor} is a file, not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot create {path}: no permission to write in {ancestor}")
    return path


def boolean(text: str) -> bool:
    """true/false, 1/0 or yes/no."""
    if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() in ("true", "1", "yes")


def add_config_flags(
    parser: argparse.ArgumentParser, config: type, *, help: dict[str, str], types: dict[str, Callable[[str], Any]],
    choices: dict[str, tuple[str, ...]] | None = None,
) -> None:
    """One flag per field of the frozen dataclass `config` (`lora_rank` -> `--lora-rank`), each
    defaulting to None so that only the flags given override a preset (`config_overrides`)."""
    for field in dataclasses.fields(config):
        flag, text = "--" + field.name.replace("_", "-"), help.get(field.name)
        kind = str(field.type)
        if kind == "bool":
            parser.add_argument(flag, type=boolean, metavar="{true,false}", help=text)
        elif kind.startswith("tuple"):
            parser.add_argument(flag, type=float, nargs=2, help=text)
        else:
            kind = types[field.name] if field.name in types else {"int": int, "float": float, "str": str}[kind]
            parser.add_argument(flag, type=kind, choices=(choices or {}).get(field.name), help=text)


def config_overrides(args: argparse.Namespace, config: type) -> dict[str, Any]:
    """The fields of `config` that were given on the command line."""
    names = {field.name for field in dataclasses.fields(config)}
    return {name: value for name, value in vars(args).items() if name in names and value is not None}


def _parse(text: str, kind: type, words: str) -> int | float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {words}, got {text!r}") from None
