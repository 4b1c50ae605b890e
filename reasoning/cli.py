"""The `reasoning` command: one argparse subcommand per job, no logic of its own.

Each subcommand module offers `add_parser(subparsers)` that registers its arguments and sets
`func`; this file only assembles them and turns the expected failures (no network, an
unknown model, a bad checkpoint or file, a full disk) into one clear line instead of a
traceback, and carries on quietly when the reader of its output goes away (`| head -1`). Building
the parser imports no torch, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from reasoning import hub
from reasoning.commands.distill import add_distill_parser
from reasoning.commands.eval import add_eval_parser
from reasoning.commands.generate import add_chat_parser, add_generate_parser
from reasoning.commands.model import add_convert_parser, add_info_parser
from reasoning.commands.serve import add_serve_parser
from reasoning.commands.train import add_plot_parser, add_train_parser
from reasoning.commands.view import add_view_parser

OFFLINE_TASK = "run offline: reasoning train grpo --task toy-addition"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reasoning", description="Research toolkit for reasoning LLMs (Qwen3).")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_info_parser(subparsers)
    add_convert_parser(subparsers)
    add_generate_parser(subparsers)
    add_chat_parser(subparsers)
    add_eval_parser(subparsers)
    add_train_parser(subparsers)
    add_plot_parser(subparsers)
    add_distill_parser(subparsers)
    add_view_parser(subparsers)
    add_serve_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "any_arguments", False):  # a retired command takes any, to name its successor
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return run_command(f"reasoning {args.command}", lambda: args.func(args), args)


def run_command(
    prog: str, command: Callable[[], object], args: argparse.Namespace | None = None, *, offline: str | None = None
) -> int:
    """Run `command`; an expected failure becomes one line `prog: error: ...` on stderr and exit
    code 2. Without the hub, the line names the flags of `args` that do without it, or says
    `offline` (the chapter scripts' own advice). A reader of stdout or stderr that goes away
    (`| head -1`) never stops the command: what it would still print is dropped, and a training
    run, an evaluation or a distillation carries on, writing its files, to exit 0."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Unbreakable(sys.stdout), _Unbreakable(sys.stderr)
    try:
        with _warnings_as_lines(prog):
            command()
        sys.stdout.flush()
    except BrokenPipeError:  # a write through a stream held from before the command began
        _silence(sys.stdout)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        message = describe_error(error, args, offline)
        if message is None:
            raise
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2
    finally:
        sys.stdout, sys.stderr = saved
    return 0


class _Unbreakable:
    """A text stream that outlives its reader: the first write or flush that finds the pipe
    closed points the stream's descriptor at /dev/null, and the program carries on (what a
    closed pipe would otherwise end, mid-run, with a BrokenPipeError)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            _silence(self._stream)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            _silence(self._stream)

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding...: the stream's own
        return getattr(self._stream, name)


def describe_error(error: Exception, args: argparse.Namespace | None = None, offline: str | None = None) -> str | None:
    """One line for an expected failure, or None for a bug (which keeps its traceback)."""
    if isinstance(error, hub.HubUnavailableError):
        return _offline_message(error, args, offline)
    if isinstance(error, ImportError):
        needs_matplotlib = error.name == "matplotlib" or "matplotlib" in str(error)
        return "plotting needs matplotlib: pip install 'reasoning[plot]'" if needs_matplotlib else None
    if isinstance(error, OSError):
        if error.errno == errno.ENOSPC:
            where = f" writing {error.filename}" if error.filename else ""
            return f"no space left on device{where}: free some space, or write somewhere else (--out)"
        if error.filename is not None and error.strerror:
            return f"{error.filename}: {error.strerror}"
        return str(error)
    if isinstance(error, ValueError):  # bad checkpoints, datasets, records, settings, names
        return str(error)
    return None


def _offline_message(error: hub.HubUnavailableError, args: argparse.Namespace | None, offline: str | None) -> str:
    """What is missing and the flags that do without the hub, in this command's words."""
    missing = repr(error.name) if error.name else "what it needs"
    problem = f"{hub.why_unavailable()} and {missing} is not in the local cache"
    unset = "unset HF_HUB_OFFLINE to download it, or " if hub.offline_by_setting() else ""
    if offline is not None:
        return f"{problem}: {unset}{offline}"
    if args is None:
        return str(error)
    fixes = []
    dataset = getattr(args, "dataset", None)
    if dataset is None:  # benchmarks by name; a --dataset names its own source
        if hasattr(args, "data_dir"):  # eval run: several benchmarks
            if args.data_dir is None and args.data is None:
                fixes.append("--data-dir DIR (local copies of the benchmarks) or --data FILE (one benchmark's)")
        elif getattr(args, "data", ...) is None:
            fixes.append("--data PATH (a local MATH-500 .json/.jsonl)")
    elif not Path(dataset).expanduser().is_file():
        fixes.append("--dataset PATH (a local .json/.jsonl file)")
    if getattr(args, "eval_bench", None) and args.bench_data is None and args.bench_dir is None:  # train sft
        fixes.append("--bench-dir DIR or --bench-data FILE (a local copy of the benchmark)")
    for flag in ("model", "teacher"):
        name = getattr(args, flag, None)
        if name and not Path(name).expanduser().is_dir():
            fixes.append(f"a local checkpoint directory as --{flag}")
    training = getattr(args, "train_command", None)  # train grpo and train sft each have a toy task
    task = f"run offline: reasoning train {training} --task toy-addition" if training else OFFLINE_TASK
    advice = f"pass {' and '.join(fixes)}, or {task}" if fixes else task
    return f"{problem}: {unset}{advice}"


def _silence(stream: TextIO) -> None:
    """After a closed pipe, point `stream`'s descriptor at /dev/null, so its later writes and the
    interpreter's last flush are quiet (the Python documentation's recipe for SIGPIPE)."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
    except (OSError, ValueError):  # a stream without a descriptor (io.UnsupportedOperation)
        pass


@contextmanager
def _warnings_as_lines(prog: str) -> Iterator[None]:
    """Show each warning of the command as one line `prog: message` on stderr, without Python's
    file, category and source line, and each line once (a budget capped at every chat turn)."""

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: str | None = None) -> None:
        from tqdm import tqdm

        tqdm.write(f"{prog}: {message}", file=sys.stderr)  # above a progress bar, not through it

    with warnings.catch_warnings():  # entering it also forgets the warnings shown before
        warnings.showwarning = show
        yield


if __name__ == "__main__":
    sys.exit(main())
