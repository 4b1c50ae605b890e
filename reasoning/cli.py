"""The `reasoning` command: one argparse subcommand per job, no logic of its own.

Each subcommand module offers `add_parser(subparsers)` that registers its arguments and sets
`func`; this file only assembles them and turns the expected failures (no network, an
unknown model, a bad checkpoint or file, a full disk) into one clear line instead of a
traceback, and ends quietly when the reader of its output goes away (`| head -1`). Building
the parser imports no torch, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path

from reasoning import hub
from reasoning.commands.distill import add_distill_parser
from reasoning.commands.eval import add_eval_parser
from reasoning.commands.generate import add_chat_parser, add_generate_parser
from reasoning.commands.model import add_convert_parser, add_info_parser
from reasoning.commands.train import add_plot_parser, add_train_parser

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
    `offline` (the chapter scripts' own advice)."""
    try:
        command()
        sys.stdout.flush()  # so a reader that went away (`| head -1`) shows here, not at exit
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        message = describe_error(error, args, offline)
        if message is None:
            raise
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2
    return 0


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
    problem = f"the Hugging Face Hub ({hub.endpoint()}) is unreachable and {missing} is not in the local cache"
    if offline is not None:
        return f"{problem}: {offline}"
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
    return f"{problem}: {advice}"


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the interpreter's last flush is quiet
    (the Python documentation's recipe for SIGPIPE)."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # stdout replaced by one without a descriptor (io.UnsupportedOperation)
        pass


if __name__ == "__main__":
    sys.exit(main())
