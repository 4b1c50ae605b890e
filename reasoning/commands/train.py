"""`reasoning train grpo`, `reasoning train sft` and `reasoning plot`: argument parsing and calls, no logic.

Every `GRPOConfig` and `SFTConfig` field has a flag of the same name (underscores as dashes);
flags left out keep the preset's value. Run under `torchrun --nproc-per-node N` to train on N
processes. Building the parsers imports no torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from reasoning.flags import add_config_flags, config_overrides, input_file, non_negative_float, non_negative_int, output_dir, output_file, positive_float, positive_int, probability
from reasoning.generation.endpoint import is_endpoint_name, refuse_remote

if TYPE_CHECKING:
    from reasoning.evaluation.tasks import Task

_GRPO_HELP = {
    "group_size": "completions per prompt (G)", "prompts_per_step": "prompts per step, over all ranks",
    "mu": "optimisation passes per batch of rollouts", "beta": "KL coefficient to the frozen reference (k3)",
    "eps_high": "upper clip epsilon (DAPO clip-higher: 0.28)", "aggregation": "how token losses become one number",
    "dynamic_sampling": "groups with equal rewards: kept, skipped or refilled", "micro_batch_size": "sequences per backward pass",
    "thinking_budget": "rollouts: thinking tokens before the close is forced (0: no budget)",
    "lora_rank": "train LoRA adapters of this rank, base frozen (0: full fine-tuning)", "lora_alpha": "LoRA scale alpha / rank",
    "keep_last": "keep the newest N step checkpoints, delete older ones (0: keep all)",
    "reward_normalisation": "joint: normalise the weighted sum; per-reward: each reward in its group first (GDPO)",
    "overlong_cache": "DAPO's soft overlong punishment over the last N tokens of the budget (0: off)",
    "overlong_factor": "the overlong punishment at the budget", "length_penalty": "weight of the length reward on correct answers (Kimi 1.5)",
    "loss": "grpo (clip), gspo (clip per sequence), cispo (capped weight), sapo (soft gate); --preset NAME: its paper's settings",
    "importance_sampling": "the ratio per token, or per sequence (GSPO's; gspo always)", "eps_max": "CISPO's cap on the ratio weight",
    "sapo_tau_pos": "SAPO gate temperature, positive advantages", "sapo_tau_neg": "SAPO gate temperature, other advantages",
    "tis": "importance sampling against the sampler: rho truncated at C, or masked outside [C_min, C] (Yao et al. 2025)",
    "tis_level": "rho per token, or per sequence (product of its tokens')", "tis_c": "C", "tis_c_min": "C_min (mask only)",
    "off_policy_mask": "drop negative-advantage sequences whose mean log(pi_sampler / pi) exceeds this (DeepSeek-V3.2)",
    "kl_estimator": "k3, or unbiased-k3: k3 reweighted by pi / pi_old (DeepSeek-V3.2)",
}  # fmt: skip
# Flags checked by argparse, in their own words, before a model is built (the configs check again).
_GRPO_TYPES = {
    **dict.fromkeys(("steps", "prompts_per_step", "max_new_tokens", "max_batch_size", "mu", "micro_batch_size"), positive_int),
    **dict.fromkeys(("lr", "temperature"), positive_float),
    **dict.fromkeys(("beta", "eps_low", "eps_high", "max_grad_norm", "weight_decay"), non_negative_float),
    "top_p": probability,
    **dict.fromkeys(("thinking_budget", "lora_rank", "keep_last"), non_negative_int),
    "lora_alpha": positive_int,
    "overlong_cache": non_negative_int, **dict.fromkeys(("overlong_factor", "length_penalty"), non_negative_float),
    "tis_c": positive_float, "tis_c_min": non_negative_float, "off_policy_mask": non_negative_float,
    **dict.fromkeys(("eps_max", "sapo_tau_pos", "sapo_tau_neg"), positive_float),
}  # fmt: skip
_SFT_HELP = {
    "steps": "optimizer steps (0: as many as --epochs take)", "batch_size": "sequences per optimizer step, over all ranks",
    "micro_batch_size": "sequences per forward/backward pass", "max_length": "prompt + response tokens at most",
    "too_long": "longer examples: drop, or truncate the response's end", "schedule": "cosine, linear or constant after warm-up",
    "lora_rank": "LoRA adapters of this rank on every projection (0: train every weight)",
    "eval_every": "evaluate every N steps (0: at the end only)",
    "keep_last": "keep the newest N step checkpoints, delete older ones (0: keep all)",
}  # fmt: skip
_SFT_TYPES = {
    **dict.fromkeys(("epochs", "batch_size", "micro_batch_size", "max_length", "lora_alpha"), positive_int),
    **dict.fromkeys(("steps", "warmup_steps", "lora_rank", "checkpoint_every", "keep_last", "eval_every"), non_negative_int),
    "lr": positive_float,
}  # fmt: skip


def add_train_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `train grpo` and `train sft`."""
    parser = subparsers.add_parser("train", help="train a model: reinforcement learning (GRPO) or supervised fine-tuning (SFT)")
    commands = parser.add_subparsers(dest="train_command", required=True)
    _add_sft_parser(commands)
    _add_grpo_parser(commands)


def _add_grpo_parser(commands: argparse._SubParsersAction) -> None:
    from reasoning.rl.config import (
        AGGREGATIONS, DTYPES, DYNAMIC_SAMPLING, IMPORTANCE_SAMPLING, KL_ESTIMATORS, LOSSES, PRESETS, REWARD_NORMALISATIONS, TIS_LEVELS,
        TIS_MODES, GRPOConfig,
    )  # fmt: skip

    grpo = commands.add_parser("grpo", help="GRPO with verifiable rewards; metrics to CSV/JSONL, checkpoints, --resume")
    grpo.add_argument("--task", choices=["math", "toy-addition"], default="math",
                      help="toy-addition: a tiny model learns to add, offline, in a few CPU minutes")
    grpo.add_argument("--model", help="alias, hub id or checkpoint directory (task math)")
    source = grpo.add_mutually_exclusive_group()
    source.add_argument("--dataset", help=".json/.jsonl file, hub dataset, or 'math500' (task math)")
    source.add_argument("--bench", help="a benchmark by name as the training problems, graded as eval grades it (task math)")
    grpo.add_argument("--data-dir", type=Path, help="with --bench: read it from its local file in DIR")
    grpo.add_argument("--data", type=input_file, help="with --bench: read it from this .json/.jsonl file")
    grpo.add_argument("--question-field", default="question")
    grpo.add_argument("--answer-field", default="answer")
    grpo.add_argument("--limit", type=positive_int, help="train on the first N problems only")
    grpo.add_argument("--eval-bench", help="the periodic held-out evaluation's benchmark (default with --eval-data: math500)")
    grpo.add_argument("--eval-dir", "--bench-dir", dest="bench_dir", type=Path, help="with --eval-bench: its local file in DIR")
    grpo.add_argument("--eval-data", "--bench-data", dest="bench_data", type=input_file,
                      help="local file of the held-out benchmark (without --eval-bench: a MATH-500 .json/.jsonl)")
    grpo.add_argument("--preset", choices=sorted(PRESETS), help="objective preset (default: grpo, or toy-addition for that task)")
    grpo.add_argument("--device", default="auto")
    grpo.add_argument("--out", type=output_dir, default=Path("runs/grpo"), help="directory for metrics, samples and checkpoints")
    _add_report_flag(grpo)
    _add_start_flags(grpo, merged="the final policy")
    add_config_flags(
        grpo, GRPOConfig, help=_GRPO_HELP, types=_GRPO_TYPES,
        choices={"aggregation": AGGREGATIONS, "dynamic_sampling": DYNAMIC_SAMPLING, "dtype": DTYPES, "reward_normalisation": REWARD_NORMALISATIONS, "tis": TIS_MODES, "tis_level": TIS_LEVELS,
                 "loss": LOSSES, "importance_sampling": IMPORTANCE_SAMPLING, "kl_estimator": KL_ESTIMATORS},
    )  # fmt: skip
    grpo.set_defaults(func=run_train_grpo)


def _add_sft_parser(commands: argparse._SubParsersAction) -> None:
    from reasoning.sft.config import DTYPES, PRESETS, SCHEDULES, TOO_LONG, SFTConfig

    sft = commands.add_parser("sft", help="supervised fine-tuning on traces or prompt/response pairs (full or LoRA); --resume")
    sft.add_argument("--task", choices=["data", "toy-addition"], default="data",
                     help="toy-addition: a tiny model learns sums from correct traces, offline, in seconds")
    sft.add_argument("--model", help="the student: alias, hub id or checkpoint directory")
    source = sft.add_mutually_exclusive_group()
    source.add_argument("--data", type=input_file, help="traces (problem, thinking, answer) or prompt/response JSONL")
    source.add_argument("--bench", help="a benchmark by name: learn its reference solutions (math500, gsm8k, minerva, aime24)")
    sft.add_argument("--data-dir", type=Path, help="with --bench: read it from its local file in DIR")
    sft.add_argument("--limit", type=positive_int, help="with --bench: its first N problems")
    sft.add_argument("--prompt", choices=["math", "plain"], default="math",
                     help="traces: the user turn is the boxed-answer math prompt (as eval asks) or the problem as is")
    sft.add_argument("--no-thinking", action="store_true", help="a non-thinking student: learn the answers without the thinking")
    held = sft.add_mutually_exclusive_group()
    held.add_argument("--eval-data", type=input_file, help="held-out examples (same formats) for the evaluation loss")
    held.add_argument("--held-out", type=non_negative_int, default=0, help="set aside the examples of N problems for the evaluation loss")
    sft.add_argument("--eval-bench", help="also evaluate greedy pass@1 on this benchmark through the evaluation pipeline")
    sft.add_argument("--bench-data", type=input_file, help="local file of --eval-bench (default: the hub)")
    sft.add_argument("--bench-dir", type=Path, help="directory of local benchmark files (../shared/data/benchmarks)")
    sft.add_argument("--eval-limit", type=positive_int, default=50, help="--eval-bench: its first N problems")
    sft.add_argument("--eval-max-new-tokens", type=positive_int, default=2048)
    sft.add_argument("--preset", choices=sorted(PRESETS), help="settings preset (default: full, lora with --lora-rank, toy for the toy task)")
    sft.add_argument("--device", default="auto")
    sft.add_argument("--out", type=output_dir, default=Path("runs/sft"), help="directory for metrics and checkpoints")
    _add_report_flag(sft)
    _add_start_flags(sft, merged="the model")
    add_config_flags(sft, SFTConfig, help=_SFT_HELP, types=_SFT_TYPES, choices={"too_long": TOO_LONG, "schedule": SCHEDULES, "dtype": DTYPES})
    sft.set_defaults(func=run_train_sft)


def _add_report_flag(parser: argparse.ArgumentParser) -> None:
    from reasoning.training.tracking import REPORT_TO

    parser.add_argument("--report-to", choices=REPORT_TO, default="none",
                        help="also stream each metrics row to this tracker, locally (tensorboard: OUT/tensorboard)")  # fmt: skip


def _add_start_flags(parser: argparse.ArgumentParser, *, merged: str) -> None:
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    start.add_argument("--overwrite", action="store_true", help="replace the run already in --out (its metrics and checkpoints)")
    parser.add_argument("--merge", action="store_true", help=f"LoRA: also write {merged}, adapters folded in, to OUT/merged")


def add_plot_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `plot`."""
    parser = subparsers.add_parser(
        "plot", help="draw a training run's curves from its metrics.csv (per-step ones with a moving average, evaluations as points)"
    )
    parser.add_argument("metrics", type=input_file, help="the metrics.csv in a train grpo or train sft run's --out")
    parser.add_argument("--out", type=output_file, default=Path("curves.png"))
    parser.add_argument("--window", type=positive_int, default=10, help="moving-average window of the per-step curves, in steps")
    parser.set_defaults(func=run_plot)


def run_train_grpo(args: argparse.Namespace) -> None:
    from reasoning.lora import MERGED_DIR, check_merge
    from reasoning.rl.config import GRPOConfig
    from reasoning.rl.launch import load_setting, train_setting
    from reasoning.rl.metrics import reward_trend
    from reasoning.training.checkpoints import refuse_existing_run
    from reasoning.training.metrics import read_metrics
    from reasoning.training.tracking import RowStream

    preset = args.preset or ("toy-addition" if args.task == "toy-addition" else "grpo")
    config = GRPOConfig.from_name(preset, **config_overrides(args, GRPOConfig))
    check_merge(config.lora_rank, args.merge)
    stream = RowStream(args.report_to, args.out, project="reasoning-grpo", config=config.to_dict())  # its package checked here
    if not (args.resume or args.overwrite):
        refuse_existing_run(args.out)  # before any model is loaded
    model, task, eval_task = _grpo_data(args) if args.task == "math" else (None, None, None)
    setting = load_setting(config, model=model, task=task, eval_task=eval_task, device=args.device)
    try:
        world, _ = train_setting(
            setting, config, args.out, resume=args.resume, overwrite=args.overwrite,
            on_step=lambda row: (stream(row), _print_grpo_row(row)), on_resume=_print_resume, merge=args.merge,
        )  # fmt: skip
    finally:
        stream.close()
    if world.is_main:
        print(reward_trend(read_metrics(args.out / "metrics.csv")))
        merged = f"   merged: {args.out / MERGED_DIR}" if args.merge else ""
        print(f"metrics: {args.out / 'metrics.csv'}   checkpoints: {args.out / 'checkpoints'}{merged}")


def _grpo_data(args: argparse.Namespace) -> tuple[str, Task, Task | None]:
    """Task math: the model's name, the training task and the held-out task (None: none), read before any weights."""
    from reasoning.training.data import load_task

    if not args.model or not (args.dataset or args.bench):
        raise ValueError("task 'math' needs --model and --dataset (or --bench)")
    if is_endpoint_name(args.model):
        refuse_remote("GRPO training")
    task = load_task(
        dataset=args.dataset, bench=args.bench, data_dir=args.data_dir, data=args.data, question_field=args.question_field,
        answer_field=args.answer_field, limit=args.limit,
    )  # fmt: skip
    if args.bench_dir is not None and args.eval_bench is None:
        raise ValueError("--eval-dir goes with --eval-bench")
    eval_task = None
    if args.eval_bench or args.bench_data:
        eval_task = load_task(bench=args.eval_bench or "math500", data_dir=args.bench_dir, data=args.bench_data)
    return args.model, task, eval_task


def _print_resume(step: int, last: int) -> None:
    """What --resume found: the checkpoint's step of the run's last."""
    print(f"resuming from step {step} of {last}" + (": the run is complete" if step >= last else ""), flush=True)


def _print_grpo_row(row: dict) -> None:
    optional = "".join(f" {name} {row[key]:.3f}" for key, name in (("accuracy", "acc"), ("kl", "kl"), ("eval_accuracy", "eval")) if row.get(key) is not None)
    print(
        f"step {row['step']:5d} reward {row['reward_mean']:.3f}{optional} len {row['response_length']:.1f} "
        f"clip {row['clip_fraction']:.3f} entropy {row['entropy']:.3f} grad {row['grad_norm']:.3f} "
        f"{row['tokens_per_s']:.0f} tok/s {row['seconds']:.2f} s",
        flush=True,
    )


def run_train_sft(args: argparse.Namespace) -> None:
    from reasoning.hub import base_model_name
    from reasoning.lora import MERGED_DIR, check_merge
    from reasoning.sft import trainer
    from reasoning.sft.config import SFTConfig
    from reasoning.training.checkpoints import refuse_existing_run
    from reasoning.training.run import run_training
    from reasoning.training.tracking import RowStream

    overrides = config_overrides(args, SFTConfig)
    preset = args.preset or ("toy" if args.task == "toy-addition" else "lora" if overrides.get("lora_rank") else "full")
    config = SFTConfig.from_name(preset, **overrides)
    check_merge(config.lora_rank, args.merge)
    stream = RowStream(args.report_to, args.out, project="reasoning-sft", config=config.to_dict())  # its package checked here
    if not (args.resume or args.overwrite):
        refuse_existing_run(args.out)  # before any model is loaded
    model, tokenizer, examples, evaluate = _sft_setting(args, config)

    def prepare(model, tokenizer):
        return trainer.prepare(model, tokenizer, config, base_model=base_model_name(args.model) if args.task == "data" else None)

    def train(learner):
        if learner.world.is_main:
            counts = examples.counts
            print(f"examples: {len(examples.train)} to train on, {len(examples.held_out)} held out; "
                  f"length rule ({config.too_long} above {config.max_length} tokens): {counts['dropped']} dropped, "
                  f"{counts['truncated']} truncated of {counts['read']}")  # fmt: skip
        return trainer.train(
            learner, examples.train, args.out, eval_examples=examples.held_out, evaluate=evaluate, resume=args.resume,
            overwrite=args.overwrite, on_step=lambda row: (stream(row), _print_sft_row(row)), on_resume=_print_resume,
        )  # fmt: skip

    try:
        world, _ = run_training(model, tokenizer, prepare, train, args.out, merge=args.merge)
    finally:
        stream.close()
    if world.is_main:
        if args.merge:
            print(f"merged model: {args.out / MERGED_DIR}")
        print(f"metrics: {args.out / 'metrics.csv'}   checkpoints: {args.out / 'checkpoints'}")


def _sft_setting(args: argparse.Namespace, config) -> tuple:
    """The student, its tokenizer, the examples and the periodic evaluation (None: loss only)."""
    from reasoning.sft.data import Examples, examples_of, load_examples, read_conversations, task_conversations, tokenize

    if args.task == "toy-addition":
        from reasoning.sft.toy import toy_evaluator, toy_student, toy_traces

        toy = toy_student(seed=config.seed)
        train, counts = tokenize(toy_traces(toy), toy.tokenizer, max_length=config.max_length, too_long=config.too_long)
        return toy.model, toy.tokenizer, Examples(train, [], counts), toy_evaluator(toy, args.out)
    if not args.model or not (args.data or args.bench):
        raise ValueError("train sft needs --model and --data or --bench (or --task toy-addition, offline)")
    if is_endpoint_name(args.model):
        refuse_remote("SFT training")
    if args.data_dir is not None and not args.bench:
        raise ValueError("--data-dir goes with --bench")
    from reasoning.evaluation.benchmarks import load_benchmark
    from reasoning.training.evaluate import task_evaluator
    from reasoning.training.run import load_model

    # The benchmarks are read before any weights, so a missing file fails in a second.
    task = load_benchmark(args.eval_bench, data_dir=args.bench_dir, data=args.bench_data, limit=args.eval_limit) if args.eval_bench else None
    solutions = task_conversations(load_benchmark(args.bench, data_dir=args.data_dir, limit=args.limit), prompt=args.prompt) if args.bench else None
    model, tokenizer = load_model(args.model, dtype=config.dtype, device=args.device)
    if solutions is not None:
        evaluation = read_conversations(args.eval_data, prompt=args.prompt) if args.eval_data else None
        examples = examples_of(solutions, tokenizer, config, thinking=not args.no_thinking, evaluation=evaluation, held_out=args.held_out)
    else:
        examples = load_examples(
            args.data, tokenizer, config, prompt=args.prompt, thinking=not args.no_thinking, eval_data=args.eval_data,
            held_out=args.held_out,
        )  # fmt: skip
    evaluate = None
    if task is not None:
        evaluate = task_evaluator(
            tokenizer, task, args.out, model_name=args.model, thinking=not args.no_thinking, max_new_tokens=args.eval_max_new_tokens
        )  # fmt: skip
    return model, tokenizer, examples, evaluate


def _print_sft_row(row: dict) -> None:
    held = "".join(f" {name} {row[key]:.3f}" for key, name in (("eval_loss", "eval-loss"), ("eval_accuracy", "eval-acc")) if row.get(key) is not None)
    print(
        f"step {row['step']:5d} epoch {row['epoch']:.2f} loss {row['loss']:.4f}{held} lr {row['lr']:.2e} "
        f"grad {row['grad_norm']:.3f} {row['tokens_per_s']:.0f} tok/s {row['seconds']:.2f} s",
        flush=True,
    )


def run_plot(args: argparse.Namespace) -> None:
    from reasoning.training.metrics import plot_metrics

    print(f"curves: {plot_metrics(args.metrics, args.out, window=args.window)}")
