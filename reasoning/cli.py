"""The `reasoning` command: one argparse subcommand per job, no logic of its own.

Each subcommand module offers `add_parser(subparsers)` that registers its arguments and sets
`func`; this file only assembles them and turns the expected failures (no network, an
unknown model, a bad checkpoint or file) into one clear line instead of a traceback.
"""

from __future__ import annotations

import argparse
import sys

from reasoning.evaluation.cli import add_eval_parser
from reasoning.generation.cli import add_chat_parser, add_generate_parser
from reasoning.hub import HubUnavailableError, UnknownModelError
from reasoning.rl.cli import add_plot_parser, add_train_parser


def add_info_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("info", help="show a model's shape, parameter count and memory")
    parser.add_argument("--model", required=True, help="alias (qwen3-0.6b), hub id, checkpoint directory, or preset (0.6B)")
    parser.set_defaults(func=run_info)


def run_info(args: argparse.Namespace) -> None:
    """Print the configuration and sizes, reading only config.json (weights are not downloaded)."""
    import torch

    from reasoning import hub
    from reasoning.checkpoint import read_config
    from reasoning.model.config import PRESETS, Qwen3Config
    from reasoning.model.moe import parameter_counts
    from reasoning.model.qwen3 import Qwen3Model

    if args.model.upper() in PRESETS:
        config = Qwen3Config.from_name(args.model)
    else:
        config = read_config(hub.download(args.model, ("config.json",)))
    with torch.device("meta"):
        model = Qwen3Model(config)
    count, active = parameter_counts(model)
    kv_bytes = 2 * config.num_layers * config.num_kv_heads * config.head_dim * 2
    for field, value in config.to_dict().items():
        print(f"{field:24s} {value}")
    print(f"{'parameters':24s} {count / 1e9:.3f} B ({count * 2 / 2**30:.2f} GiB in bf16)")
    if config.is_moe:  # what one token reads: attention, router and its top-k experts per layer
        print(f"{'active per token':24s} {active / 1e9:.3f} B ({active * 2 / 2**30:.2f} GiB in bf16)")
    print(f"{'KV cache per token':24s} {kv_bytes / 2**10:.0f} KiB in bf16")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reasoning", description="Research toolkit for reasoning LLMs (Qwen3).")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_info_parser(subparsers)
    add_generate_parser(subparsers)
    add_chat_parser(subparsers)
    add_eval_parser(subparsers)
    add_train_parser(subparsers)
    add_plot_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (HubUnavailableError, UnknownModelError, FileNotFoundError, ValueError) as error:
        print(f"reasoning {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
