"""`reasoning eval run`, `eval budget`, `eval compare` and `eval score`: argument parsing and calls, no logic."""

from __future__ import annotations

import argparse
from pathlib import Path

from reasoning.commands.generate import QUANTIZE
from reasoning.evaluation.protocols import PROTOCOLS, SCORING
from reasoning.evaluation.strategies import SCORERS, STRATEGIES, TIE_BREAKS
from reasoning.flags import input_file, non_negative_int, output_dir, output_file, positive_float, positive_int
from reasoning.generation.options import THINKING_FLAGS, add_generation_flags

# The sampling fields a protocol presets; a flag left unset keeps the preset's value.
_PROTOCOL_FIELDS = ("n", "temperature", "top_p", "top_k", "min_p", "max_new_tokens")
FORMER_MATH500 = (
    "`eval math500` is now `reasoning eval run --bench math500 --out DIR` (DIR: a run directory; "
    "--strategy, --n, --cot, --data and the sampling flags as before, --protocol for the sampling preset)"
)


def add_eval_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `eval run`, `eval budget`, `eval compare` and `eval score`."""
    parser = subparsers.add_parser("eval", help="evaluate a model on benchmarks, or re-score and compare saved results")
    commands = parser.add_subparsers(dest="eval_command", required=True)
    _add_run_parser(commands)
    _add_budget_parser(commands)
    former = commands.add_parser("math500", add_help=False, help="replaced by `eval run --bench math500`")
    former.set_defaults(func=run_former_math500, any_arguments=True)

    compare = commands.add_parser(
        "compare", help="runs side by side: accuracy, tokens and time per task; for two runs, paired differences with intervals"
    )
    compare.add_argument("results", type=_existing, nargs="+", help="run directories or records files (A B ...)")
    compare.add_argument("--plot", type=output_file, help="also draw the accuracies (PNG, needs matplotlib)")
    compare.set_defaults(func=run_compare)

    score = commands.add_parser("score", help="re-grade saved results (a run directory or a records file) and print the summary")
    score.add_argument("results", type=_existing)
    score.add_argument("--write", action="store_true", help="save the re-graded records back")
    score.set_defaults(func=run_score)


def _add_run_parser(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run", help="benchmarks under a sampling protocol and a strategy: accuracy, pass@1 ± stderr, pass@k, maj@k "
                    "(resumable, torchrun-aware)",
    )  # fmt: skip
    run.add_argument("--bench", required=True,
                     help="comma-separated benchmarks: math500, aime24, aime25, amc23, gsm8k, minerva, olympiadbench, "
                          "mmlu-stem, gpqa-diamond")
    run.add_argument("--model", required=True, help="alias (qwen3-0.6b), hub id, or checkpoint directory")
    run.add_argument("--protocol", default="greedy", choices=PROTOCOLS,
                     help="greedy: n 1; r1: n 16, T 0.6, top-p 0.95; qwen3: n 16, T 0.6, top-p 0.95, top-k 20 "
                          "(both up to 32,768 new tokens); the flags below override it")
    unset = dict.fromkeys(_PROTOCOL_FIELDS)  # None: the protocol's value
    add_generation_flags(run, (*_PROTOCOL_FIELDS, *THINKING_FLAGS, "compile"), **unset)
    run.add_argument("--seed", type=int, default=0, help="sampling seed (each problem's samples have their own stream)")
    run.add_argument("--strategy", default="independent", choices=list(STRATEGIES),
                     help="what answers a problem: each sample on its own (independent), the majority of the n samples "
                          "(self-consistency), the sample --scorer ranks first (best-of-n), or a draft refined (self-refine)")
    run.add_argument("--rounds", type=non_negative_int, default=2, help="self-refine: critique-and-revise rounds at most")
    run.add_argument("--scorer", default="logprob", choices=SCORERS,
                     help="best-of-n / self-refine: mean token log-prob, text heuristic, or the model as judge")
    run.add_argument("--tie-break", default="first", choices=TIE_BREAKS,
                     help="self-consistency: equal votes go to the first group, or the higher mean log-prob")
    run.add_argument("--early-stop", action="store_true", help="self-consistency: stop sampling once the vote is decided")
    run.add_argument("--cot", action="store_true", help="append the chain-of-thought suffix to math prompts")
    run.add_argument("--scoring", default="generate", choices=SCORING,
                     help="generate and grade; or, for multiple choice, each letter's likelihood after the prompt")
    run.add_argument("--kind", choices=["auto", "base", "reasoning"], default="auto",
                     help="prompt format: plain prompt (base) or chat template (reasoning); auto from the tokenizer")
    run.add_argument("--no-thinking", action="store_true", help="reasoning models: thinking off")
    _add_data_arguments(run)
    run.add_argument("--grade-timeout", type=positive_float, default=2.0, help="seconds one grade may take")
    run.add_argument("--quantize", default="none", choices=QUANTIZE, help="int8: int8 weights in the linear layers (faster decoding on CPU)")
    run.add_argument("--out", type=output_dir, required=True, help="run directory: <bench>.jsonl records and summary.json")
    run.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    run.set_defaults(func=run_eval)


def _add_budget_parser(commands: argparse._SubParsersAction) -> None:
    budget = commands.add_parser(
        "budget", help="accuracy against thinking budget, every budget from one decode of the thinking (resumable)"
    )
    budget.add_argument("--bench", required=True, help="comma-separated benchmarks, as for eval run")
    budget.add_argument("--model", required=True, help="a reasoning model: alias (qwen3-0.6b), hub id, or checkpoint directory")
    budget.add_argument("--budgets", type=_budgets, required=True, help="comma-separated thinking budgets, e.g. 256,512,1024,2048,4096")
    budget.add_argument("--protocol", default="qwen3", choices=PROTOCOLS, help="sampling protocol (default qwen3); the flags below override it")
    add_generation_flags(budget, (*_PROTOCOL_FIELDS, "answer_budget"), **dict.fromkeys(_PROTOCOL_FIELDS))
    budget.add_argument("--seed", type=int, default=0)
    _add_data_arguments(budget)
    budget.add_argument("--out", type=output_dir, required=True, help="run directory: <bench>@<budget>.jsonl records and summary.json")
    budget.add_argument("--plot", type=output_file, help="also draw accuracy against budget (PNG, needs matplotlib)")
    budget.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    budget.set_defaults(func=run_budget)


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=_directory, help="read every benchmark from local files in DIR (offline copies)")
    parser.add_argument("--data", type=input_file, help="read the one benchmark from this .json/.jsonl file")
    parser.add_argument("--limit", type=positive_int, help="the first N problems of each benchmark")
    parser.add_argument("--batch-size", type=positive_int, default=16, help="sequences decoded at once")
    parser.add_argument("--device", default="auto")


def _budgets(text: str) -> list[int]:
    """Comma-separated thinking budgets, each >= 0."""
    try:
        budgets = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"budgets must be comma-separated whole numbers, got {text!r}") from None
    if not budgets or budgets[0] < 0:
        raise argparse.ArgumentTypeError(f"budgets must be >= 0 and at least one, got {text!r}")
    return budgets


def _existing(text: str) -> Path:
    """An existing file or directory."""
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{path} does not exist")
    return path


def _directory(text: str) -> Path:
    """An existing directory."""
    path = _existing(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is not a directory")
    return path


def _tasks_and_protocol(args: argparse.Namespace):
    """The tasks and the protocol with the flags' overrides (the problems read before any
    weights, so a missing file fails in a second)."""
    from reasoning.evaluation.benchmarks import load_benchmarks, parse_benchmarks
    from reasoning.evaluation.protocols import get_protocol

    protocol = get_protocol(args.protocol).with_overrides(**{name: getattr(args, name) for name in _PROTOCOL_FIELDS})
    return load_benchmarks(parse_benchmarks(args.bench), data_dir=args.data_dir, data=args.data, limit=args.limit), protocol


def run_eval(args: argparse.Namespace) -> None:
    from reasoning import distributed
    from reasoning.checkpoint import load_pretrained
    from reasoning.device import get_device
    from reasoning.evaluation.run import check_combination, check_not_started, evaluate, generation_config
    from reasoning.evaluation.strategies import parse_strategy
    from reasoning.evaluation.summary import format_summaries

    tasks, protocol = _tasks_and_protocol(args)
    strategy = parse_strategy(args.strategy, rounds=args.rounds, scorer=args.scorer, tie_break=args.tie_break, early_stop=args.early_stop)
    thinking = {name: getattr(args, name) for name in THINKING_FLAGS}
    check_combination(tasks, protocol, strategy, args.scoring)  # every option checked before any weights load
    generation_config(protocol, seed=args.seed, batch_size=args.batch_size, compile=args.compile, thinking=thinking)
    check_not_started(args.out, tasks, args.resume)
    device = distributed.local_device(get_device(args.device))  # cuda:LOCAL_RANK under torchrun
    with distributed.process_group(device) as world:  # the ranks only wait for each other between tasks
        model, tokenizer = load_pretrained(args.model, device=device, quantize=args.quantize)
        summaries = evaluate(
            model, tokenizer, tasks, args.out, model_name=args.model, protocol=protocol, strategy=strategy,
            kind=None if args.kind == "auto" else args.kind, enable_thinking=not args.no_thinking, cot=args.cot,
            scoring=args.scoring, seed=args.seed, batch_size=args.batch_size, compile=args.compile,
            thinking=thinking, grade_timeout=args.grade_timeout,
            resume=args.resume, world=world, progress=world.is_main,
        )  # fmt: skip
    if world.is_main:
        print(format_summaries(summaries))
        print(f"records and summary.json: {args.out}")


def run_budget(args: argparse.Namespace) -> None:
    from reasoning.checkpoint import load_pretrained
    import dataclasses

    from reasoning.evaluation.budget import budget_name, evaluate_budgets, report_budget_curves
    from reasoning.evaluation.run import check_not_started

    tasks, protocol = _tasks_and_protocol(args)
    swept = [dataclasses.replace(task, name=budget_name(task.name, budget)) for task in tasks for budget in args.budgets]
    check_not_started(args.out, swept, args.resume)  # before any weights load
    model, tokenizer = load_pretrained(args.model, device=args.device)
    evaluate_budgets(
        model, tokenizer, tasks, protocol, args.budgets, args.out, model_name=args.model, kind="reasoning",
        answer_budget=args.answer_budget, seed=args.seed, batch_size=args.batch_size, resume=args.resume,
    )  # fmt: skip
    print(report_budget_curves(args.out, [task.name for task in tasks], plot=args.plot))
    print(f"records and summary.json: {args.out}")


def run_former_math500(args: argparse.Namespace) -> None:
    raise ValueError(FORMER_MATH500)


def run_compare(args: argparse.Namespace) -> None:
    from reasoning.evaluation.compare import comparison

    print(comparison(args.results, args.plot))
    if args.plot:
        print(f"plot: {args.plot}")


def run_score(args: argparse.Namespace) -> None:
    from reasoning.evaluation.rescore import rescore
    from reasoning.evaluation.summary import format_summaries

    print(format_summaries(rescore(args.results, write=args.write)))
