"""`reasoning train sft`: argument parsing and calls, no logic.

Every `SFTConfig` field has a flag of the same name (underscores as dashes); flags left out
keep the preset's value. Run under `torchrun --nproc-per-node N` to train on N processes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reasoning.flags import add_config_flags, config_overrides, input_file, non_negative_int, output_dir, positive_float, positive_int

_HELP = {
    "steps": "optimizer steps (0: as many as --epochs take)", "batch_size": "sequences per optimizer step, over all ranks",
    "micro_batch_size": "sequences per forward/backward pass", "max_length": "prompt + response tokens at most",
    "too_long": "longer examples: drop, or truncate the response's end", "schedule": "cosine, linear or constant after warm-up",
    "lora_rank": "LoRA adapters of this rank on every projection (0: train every weight)",
    "eval_every": "evaluate every N steps (0: at the end only)",
}  # fmt: skip
_TYPES = {
    **dict.fromkeys(("epochs", "batch_size", "micro_batch_size", "max_length", "lora_alpha"), positive_int),
    **dict.fromkeys(("steps", "warmup_steps", "lora_rank", "checkpoint_every", "eval_every"), non_negative_int),
    "lr": positive_float,
}  # fmt: skip


def add_sft_parser(commands: argparse._SubParsersAction) -> None:
    """Register `train sft`."""
    from reasoning.sft.config import DTYPES, PRESETS, SCHEDULES, TOO_LONG, SFTConfig

    sft = commands.add_parser("sft", help="supervised fine-tuning on traces or prompt/response pairs (full or LoRA); --resume")
    sft.add_argument("--task", choices=["data", "toy-addition"], default="data",
                     help="toy-addition: a tiny model learns sums from correct traces, offline, in seconds")
    sft.add_argument("--model", help="the student: alias, hub id or checkpoint directory")
    sft.add_argument("--data", type=input_file, help="traces (problem, thinking, answer) or prompt/response JSONL")
    sft.add_argument("--prompt", choices=["math", "plain"], default="math",
                     help="traces: the user turn is the boxed-answer math prompt (as eval asks) or the problem as is")
    sft.add_argument("--no-thinking", action="store_true", help="a non-thinking student: learn the answers without the thinking")
    held = sft.add_mutually_exclusive_group()
    held.add_argument("--eval-data", type=input_file, help="held-out examples (same formats) for the evaluation loss")
    held.add_argument("--held-out", type=non_negative_int, default=0, help="set aside the examples of N problems for the evaluation loss")
    sft.add_argument("--eval-bench", help="also evaluate greedy pass@1 on this benchmark through the evaluation suite")
    sft.add_argument("--bench-data", type=input_file, help="local file of --eval-bench (default: the hub)")
    sft.add_argument("--bench-dir", type=Path, help="directory of local benchmark files (../shared/data/benchmarks)")
    sft.add_argument("--eval-limit", type=positive_int, default=50, help="--eval-bench: its first N problems")
    sft.add_argument("--eval-max-new-tokens", type=positive_int, default=2048)
    sft.add_argument("--preset", choices=sorted(PRESETS), help="settings preset (default: full, lora with --lora-rank, toy for the toy task)")
    sft.add_argument("--device", default="auto")
    sft.add_argument("--out", type=output_dir, default=Path("runs/sft"), help="directory for metrics and checkpoints")
    start = sft.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    start.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    sft.add_argument("--merge", action="store_true", help="LoRA: also write the model with its adapters merged to OUT/merged")
    add_config_flags(sft, SFTConfig, help=_HELP, types=_TYPES, choices={"too_long": TOO_LONG, "schedule": SCHEDULES, "dtype": DTYPES})
    sft.set_defaults(func=run_train_sft)


def run_train_sft(args: argparse.Namespace) -> None:
    from reasoning.hub import base_model_name
    from reasoning.lora import MERGED_DIR, check_merge, save_merged
    from reasoning.rl.distributed import process_group
    from reasoning.rl.state import refuse_existing_run
    from reasoning.sft.config import SFTConfig
    from reasoning.sft.trainer import prepare, train

    overrides = config_overrides(args, SFTConfig)
    preset = args.preset or ("toy" if args.task == "toy-addition" else "lora" if overrides.get("lora_rank") else "full")
    config = SFTConfig.from_name(preset, **overrides)
    check_merge(config.lora_rank, args.merge)
    if not (args.resume or args.overwrite):
        refuse_existing_run(args.out)  # before any model is loaded
    model, tokenizer, examples, evaluate = _setting(args, config)
    with process_group(next(model.parameters()).device) as world:
        if world.is_main:
            print(f"examples: {len(examples.train)} to train on, {len(examples.held_out)} held out; "
                  f"length rule ({config.too_long} above {config.max_length} tokens): {examples.counts['dropped']} dropped, "
                  f"{examples.counts['truncated']} truncated of {examples.counts['read']}")  # fmt: skip
        run = prepare(model, tokenizer, config, base_model=base_model_name(args.model) if args.task == "data" else None)
        train(
            run, examples.train, args.out, eval_examples=examples.held_out, evaluate=evaluate, resume=args.resume,
            overwrite=args.overwrite, on_step=_print_row,
        )  # fmt: skip
        if world.is_main:
            if args.merge:
                print(f"merged model: {save_merged(run.plain, tokenizer, args.out / MERGED_DIR)}")
            print(f"metrics: {args.out / 'metrics.csv'}   checkpoints: {args.out / 'checkpoints'}")


def _setting(args: argparse.Namespace, config):
    """The student, its tokenizer, the examples and the periodic evaluation (None: loss only)."""
    from reasoning.sft.data import tokenize
    from reasoning.sft.run import Examples, load_examples, suite_evaluator, toy_setting

    if args.task == "toy-addition":
        toy = toy_setting(seed=config.seed)
        train, counts = tokenize(toy.traces, toy.tokenizer, max_length=config.max_length, too_long=config.too_long)
        return toy.model, toy.tokenizer, Examples(train, [], counts), toy.evaluate
    if not args.model or not args.data:
        raise ValueError("train sft needs --model and --data (or --task toy-addition, offline)")
    import torch

    from reasoning.checkpoint import load_pretrained
    from reasoning.device import get_device
    from reasoning.rl.distributed import local_device

    problems = None
    if args.eval_bench:  # read before any weights, so a missing file fails in a second
        from reasoning.evaluation.benchmarks import load_benchmark

        problems = load_benchmark(args.eval_bench, data_dir=args.bench_dir, data=args.bench_data, limit=args.eval_limit)
    model, tokenizer = load_pretrained(args.model, device=local_device(get_device(args.device)), dtype=getattr(torch, config.dtype))
    examples = load_examples(
        args.data, tokenizer, config, prompt=args.prompt, thinking=not args.no_thinking, eval_data=args.eval_data,
        held_out=args.held_out,
    )  # fmt: skip
    evaluate = None
    if problems is not None:
        evaluate = suite_evaluator(
            tokenizer, args.eval_bench, problems, args.out, model_name=args.model, thinking=not args.no_thinking,
            max_new_tokens=args.eval_max_new_tokens,
        )  # fmt: skip
    return model, tokenizer, examples, evaluate


def _print_row(row: dict) -> None:
    held = "".join(f" {name} {row[key]:.3f}" for key, name in (("eval_loss", "eval-loss"), ("eval_accuracy", "eval-acc")) if row.get(key) is not None)
    print(
        f"step {row['step']:5d} epoch {row['epoch']:.2f} loss {row['loss']:.4f}{held} lr {row['lr']:.2e} "
        f"grad {row['grad_norm']:.3f} {row['tokens_per_s']:.0f} tok/s {row['seconds']:.2f} s",
        flush=True,
    )
