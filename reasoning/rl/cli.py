"""`reasoning train grpo` and `reasoning plot`: argument parsing and calls, no logic.

Every `GRPOConfig` field has a flag of the same name (underscores as dashes); flags left out
keep the preset's value. Run under `torchrun --nproc-per-node N` to train on N processes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reasoning.flags import add_config_flags, config_overrides, input_file, non_negative_float, non_negative_int, output_dir, output_file, positive_float, positive_int, probability

_HELP = {
    "group_size": "completions per prompt (G)", "prompts_per_step": "prompts per step, over all ranks",
    "mu": "optimisation passes per batch of rollouts", "beta": "KL coefficient to the frozen reference (k3)",
    "eps_high": "upper clip epsilon (DAPO clip-higher: 0.28)", "aggregation": "how token losses become one number",
    "dynamic_sampling": "groups with equal rewards: kept, skipped or refilled", "micro_batch_size": "sequences per backward pass",
    "thinking_budget": "rollouts: thinking tokens before the close is forced (0: no budget)",
    "lora_rank": "train LoRA adapters of this rank, base frozen (0: full fine-tuning)", "lora_alpha": "LoRA scale alpha / rank",
}  # fmt: skip
# Flags checked by argparse, in their own words, before a model is built (GRPOConfig checks again).
_TYPES = {
    **dict.fromkeys(("steps", "prompts_per_step", "max_new_tokens", "max_batch_size", "mu", "micro_batch_size"), positive_int),
    **dict.fromkeys(("lr", "temperature"), positive_float),
    **dict.fromkeys(("beta", "eps_low", "eps_high", "max_grad_norm", "weight_decay"), non_negative_float),
    "top_p": probability,
    **dict.fromkeys(("thinking_budget", "lora_rank"), non_negative_int),
    "lora_alpha": positive_int,
}  # fmt: skip


def add_train_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `train grpo` and `train sft`."""
    from reasoning.rl.config import AGGREGATIONS, DTYPES, DYNAMIC_SAMPLING, PRESETS, GRPOConfig
    from reasoning.sft.cli import add_sft_parser

    parser = subparsers.add_parser("train", help="train a model: reinforcement learning (GRPO) or supervised fine-tuning (SFT)")
    commands = parser.add_subparsers(dest="train_command", required=True)
    add_sft_parser(commands)
    grpo = commands.add_parser("grpo", help="GRPO with verifiable rewards; metrics to CSV/JSONL, checkpoints, --resume")
    grpo.add_argument("--task", choices=["math", "toy-addition"], default="math",
                      help="toy-addition: a tiny model learns to add, offline, in a few CPU minutes")
    grpo.add_argument("--model", help="alias, hub id or checkpoint directory (task math)")
    grpo.add_argument("--dataset", help=".json/.jsonl file, hub dataset, or 'math500' (task math)")
    grpo.add_argument("--question-field", default="question")
    grpo.add_argument("--answer-field", default="answer")
    grpo.add_argument("--limit", type=positive_int, help="train on the first N problems only")
    grpo.add_argument("--eval-data", type=input_file, help="local MATH-500 .json/.jsonl for the periodic held-out evaluation")
    grpo.add_argument("--preset", choices=sorted(PRESETS), help="objective preset (default: grpo, or toy-addition for that task)")
    grpo.add_argument("--device", default="auto")
    grpo.add_argument("--out", type=output_dir, default=Path("runs/grpo"), help="directory for metrics, samples and checkpoints")
    start = grpo.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    start.add_argument("--overwrite", action="store_true", help="replace the run already in --out (its metrics and checkpoints)")
    grpo.add_argument("--merge", action="store_true", help="LoRA: also write the final policy, adapters folded in, to OUT/merged")
    add_config_flags(
        grpo, GRPOConfig, help=_HELP, types=_TYPES,
        choices={"aggregation": AGGREGATIONS, "dynamic_sampling": DYNAMIC_SAMPLING, "dtype": DTYPES},
    )  # fmt: skip
    grpo.set_defaults(func=run_train_grpo)


def add_plot_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `plot`."""
    parser = subparsers.add_parser("plot", help="draw training curves (moving average) from a metrics.csv")
    parser.add_argument("metrics", type=input_file)
    parser.add_argument("--out", type=output_file, default=Path("curves.png"))
    parser.add_argument("--window", type=positive_int, default=10, help="moving-average window in steps")
    parser.set_defaults(func=run_plot)


def run_train_grpo(args: argparse.Namespace) -> None:
    from reasoning.rl.config import GRPOConfig
    from reasoning.rl.metrics import read_metrics, reward_trend
    from reasoning.hub import base_model_name
    from reasoning.lora import MERGED_DIR, check_merge
    from reasoning.rl.run import build_task, train_task
    from reasoning.rl.state import refuse_existing_run

    overrides = config_overrides(args, GRPOConfig)
    preset = args.preset or ("toy-addition" if args.task == "toy-addition" else "grpo")
    config = GRPOConfig.from_name(preset, **overrides)
    check_merge(config.lora_rank, args.merge)
    if not (args.resume or args.overwrite):
        refuse_existing_run(args.out)  # before any model is loaded
    task = build_task(
        args.task, model=args.model, dataset=args.dataset, question_field=args.question_field, answer_field=args.answer_field,
        limit=args.limit, eval_data=args.eval_data, eval_limit=config.eval_limit, device=args.device, seed=config.seed,
    )  # fmt: skip
    train_task(
        task, config, args.out, resume=args.resume, overwrite=args.overwrite, on_step=_print_row, merge=args.merge,
        base_model=base_model_name(args.model) if args.task == "math" else None,
    )  # fmt: skip
    print(reward_trend(read_metrics(args.out / "metrics.csv")))
    merged = f"   merged: {args.out / MERGED_DIR}" if args.merge else ""
    print(f"metrics: {args.out / 'metrics.csv'}   checkpoints: {args.out / 'checkpoints'}{merged}")


def _print_row(row: dict) -> None:
    optional = "".join(f" {name} {row[key]:.3f}" for key, name in (("accuracy", "acc"), ("kl", "kl"), ("eval_accuracy", "eval")) if row.get(key) is not None)
    print(
        f"step {row['step']:5d} reward {row['reward_mean']:.3f}{optional} len {row['response_length']:.1f} "
        f"clip {row['clip_fraction']:.3f} entropy {row['entropy']:.3f} grad {row['grad_norm']:.3f} "
        f"{row['tokens_per_s']:.0f} tok/s {row['seconds']:.2f} s",
        flush=True,
    )


def run_plot(args: argparse.Namespace) -> None:
    from reasoning.rl.metrics import plot_metrics

    print(f"curves: {plot_metrics(args.metrics, args.out, window=args.window)}")
