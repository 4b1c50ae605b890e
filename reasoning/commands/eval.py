"""`reasoning eval run`, `eval budget`, `eval compare` and `eval score`: argument parsing and calls, no logic."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reasoning.commands.generate import QUANTIZE
from reasoning.evaluation.protocols import PROTOCOLS, SCORING
from reasoning.evaluation.strategies import SCORERS, STRATEGIES, TIE_BREAKS
from reasoning.flags import input_file, non_negative_int, output_dir, output_file, positive_float, positive_int
from reasoning.generation.endpoint import add_endpoint_flags
from reasoning.generation.options import THINKING_FLAGS, add_generation_flags
from reasoning.prompts import PROMPT_NAMES

# The sampling fields a protocol presets; a flag left unset keeps the preset's value.
_PROTOCOL_FIELDS = ("n", "temperature", "top_p", "top_k", "min_p", "max_new_tokens", "presence_penalty", "frequency_penalty")
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
    compare.add_argument("--format", default="text", choices=("text", "md", "csv"),
                         help="md, csv: one results table, a row per run (model and method), a column per benchmark")
    compare.set_defaults(func=run_compare)

    score = commands.add_parser("score", help="re-grade saved results (a run directory or a records file) and print the summary")
    score.add_argument("results", type=_existing)
    score.add_argument("--write", action="store_true", help="save the re-graded records back")
    score.add_argument("--grade-after-thinking", action=argparse.BooleanOptionalAction, default=None,
                       help="grade only the text after </think> (or, with --no-, the whole text); default: as the run was graded")
    score.add_argument("--cross-check", action="store_true",
                       help="also list the samples on which math-verify (pip install 'reasoning[verify]') disagrees with the grader")
    score.set_defaults(func=run_score)


def _add_run_parser(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run", help="benchmarks under a sampling protocol and a strategy: accuracy, pass@1 ± stderr, pass@k, maj@k "
                    "(resumable, torchrun-aware)",
    )  # fmt: skip
    run.add_argument("--bench", required=True,
                     help="comma-separated benchmarks: math500, aime24, aime25, amc23, gsm8k, minerva, olympiadbench, "
                          "mmlu-stem, gpqa-diamond")
    run.add_argument("--model", required=True, help="alias (qwen3-0.6b), hub id, checkpoint directory, or openai:URL (a server)")
    run.add_argument("--protocol", choices=PROTOCOLS,
                     help="a paper's protocol: qwen3 (thinking: n 16, T 0.6, top-p 0.95, top-k 20, the R1 prompt; the default "
                          "for reasoning models), qwen3-nothink (T 0.7, top-p 0.8, top-k 20, presence penalty 1.5), r1 (n 16, "
                          "T 0.6, top-p 0.95), base-fewshot (greedy, each benchmark's standard few-shot exemplars; the default "
                          "for base models) or greedy (the book's prompt, zero-shot); the flags below override it")
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
    _add_prompt_argument(run)
    run.add_argument("--shots", type=non_negative_int,
                     help="base models: K solved exemplars before each question, with the format's stop strings (GSM8K 8-shot "
                          "chain of thought, Minerva 4-shot for the other math benchmarks, MMLU 5-shot from the dev split)")
    run.add_argument("--scoring", default="generate", choices=SCORING,
                     help="generate and grade; or, for multiple choice, each letter's likelihood after the prompt")
    run.add_argument("--kind", choices=["auto", "base", "reasoning"], default="auto",
                     help="prompt format: plain prompt (base) or chat template (reasoning); auto from the tokenizer")
    run.add_argument("--no-thinking", action="store_true", help="reasoning models: thinking off")
    _add_data_arguments(run)
    run.add_argument("--grade-timeout", type=positive_float, default=2.0, help="seconds one grade may take")
    run.add_argument("--grade-after-thinking", action=argparse.BooleanOptionalAction, default=None,
                     help="grade only the text after </think>: a sample whose thinking never closed, or that the budget cut, "
                          "is wrong (default: on for reasoning models, off for base models)")
    run.add_argument("--quantize", default="none", choices=QUANTIZE, help="int8: int8 weights in the linear layers (faster decoding on CPU)")
    run.add_argument("--out", type=output_dir, required=True, help="run directory: <bench>.jsonl records and summary.json")
    run.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    add_endpoint_flags(run)
    run.set_defaults(func=run_eval)


def _add_budget_parser(commands: argparse._SubParsersAction) -> None:
    budget = commands.add_parser(
        "budget", help="accuracy against thinking budget, every budget from one decode of the thinking (resumable)"
    )
    budget.add_argument("--bench", required=True, help="comma-separated benchmarks, as for eval run")
    budget.add_argument("--model", required=True,
                        help="a reasoning model: alias (qwen3-0.6b), hub id, checkpoint directory, or openai:URL (a server that "
                             "takes thinking_budget)")
    budget.add_argument("--budgets", type=_budgets, required=True, help="comma-separated thinking budgets, e.g. 256,512,1024,2048,4096")
    budget.add_argument("--protocol", default="qwen3", choices=PROTOCOLS, help="sampling protocol (default qwen3); the flags below override it")
    add_generation_flags(budget, (*_PROTOCOL_FIELDS, "answer_budget"), **dict.fromkeys(_PROTOCOL_FIELDS))
    budget.add_argument("--seed", type=int, default=0)
    _add_prompt_argument(budget)
    _add_data_arguments(budget)
    budget.add_argument("--out", type=output_dir, required=True, help="run directory: <bench>@<budget>.jsonl records and summary.json")
    budget.add_argument("--plot", type=output_file, help="also draw accuracy against budget (PNG, needs matplotlib)")
    budget.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    add_endpoint_flags(budget)
    budget.set_defaults(func=run_budget)


def _add_prompt_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prompt", choices=PROMPT_NAMES,
                        help="a published prompt: book (the default), r1 (DeepSeek-R1 / Qwen3 model cards), qwen25-math "
                             "(Qwen2.5-Math's harness), olympiad-official, gpqa-official, or official (each benchmark's own)")


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

    tasks = load_benchmarks(parse_benchmarks(args.bench), data_dir=args.data_dir, data=args.data, limit=args.limit)
    return tasks, None if args.protocol is None else _protocol(args.protocol, args)


def _protocol(name: str, args: argparse.Namespace):
    """The protocol called `name` with the flags' overrides (an unset flag keeps the preset's value)."""
    from reasoning.evaluation.protocols import get_protocol

    shots = getattr(args, "shots", None)
    if shots is None and args.prompt is not None:  # a named prompt replaces a few-shot format: zero-shot
        shots = 0
    overrides = {field: getattr(args, field) for field in _PROTOCOL_FIELDS} | {"prompt": args.prompt, "shots": shots}
    return get_protocol(name).with_overrides(**overrides)


def _check_either_default(tasks, strategy, args: argparse.Namespace) -> None:
    """Refuse what both default protocols refuse (a bad thinking option, a prompt that cannot be
    made); what only one refuses waits until the model's kind says which one applies."""
    from reasoning.evaluation.protocols import DEFAULT_PROTOCOLS

    errors = []
    for name in DEFAULT_PROTOCOLS.values():
        try:
            _check_protocol(tasks, _protocol(name, args), strategy, args)
        except ValueError as error:
            errors.append(error)
    if len(errors) == len(DEFAULT_PROTOCOLS):
        raise errors[-1]


def _check_protocol(tasks, protocol, strategy, args: argparse.Namespace) -> None:
    """Everything the protocol and the flags must agree on, before any weights load."""
    from reasoning.evaluation.run import check_combination, generation_config
    from reasoning.evaluation.tasks import check_prompts

    check_combination(tasks, protocol, strategy, args.scoring)
    check_prompts(tasks, protocol.prompt, protocol.shots, data_dir=args.data_dir)  # MMLU's dev split read here, once
    thinking = {name: getattr(args, name) for name in THINKING_FLAGS}
    generation_config(protocol, seed=args.seed, batch_size=args.batch_size, compile=args.compile, thinking=thinking)


def run_eval(args: argparse.Namespace) -> None:
    from reasoning import distributed
    from reasoning.checkpoint import load_pretrained
    from reasoning.device import get_device
    from reasoning.evaluation.protocols import DEFAULT_PROTOCOLS
    from reasoning.evaluation.run import check_not_started, evaluate
    from reasoning.evaluation.strategies import parse_strategy
    from reasoning.evaluation.summary import format_summaries
    from reasoning.generation.endpoint import check_remote_run, endpoint_from_args
    from reasoning.generation.remote import connect

    tasks, protocol = _tasks_and_protocol(args)
    strategy = parse_strategy(args.strategy, rounds=args.rounds, scorer=args.scorer, tie_break=args.tie_break, early_stop=args.early_stop)
    endpoint = endpoint_from_args(args)
    if endpoint is not None:
        check_remote_run(scoring=args.scoring, strategy=args.strategy, scorer=args.scorer, tie_break=args.tie_break)
    kinds = ["base"] if args.scoring == "loglik" else [args.kind] if args.kind != "auto" else ["reasoning", "base"]
    if protocol is None and len(kinds) == 1:
        protocol = _protocol(DEFAULT_PROTOCOLS[kinds[0]], args)
    if protocol is not None:  # every option checked before any weights load
        _check_protocol(tasks, protocol, strategy, args)
    else:  # the default protocol waits for the model's kind: refuse now what neither default accepts
        _check_either_default(tasks, strategy, args)
    check_not_started(args.out, tasks, args.resume)
    device = distributed.local_device(get_device(args.device))  # cuda:LOCAL_RANK under torchrun
    with distributed.process_group(device) as world:  # the ranks only wait for each other between tasks
        model, tokenizer = connect(endpoint) if endpoint else load_pretrained(args.model, device=device, quantize=args.quantize)
        kind = kinds[0] if len(kinds) == 1 else "base" if tokenizer.base else "reasoning"
        if args.protocol is None:
            protocol = _protocol(DEFAULT_PROTOCOLS[kind], args)
            _check_protocol(tasks, protocol, strategy, args)
            if world.is_main:
                print(f"protocol: {protocol.label} (the default for {kind} models; choose one with --protocol)", flush=True)
        summaries = evaluate(
            model, tokenizer, tasks, args.out, model_name=args.model, protocol=protocol, strategy=strategy,
            kind=kind, enable_thinking=not args.no_thinking, cot=args.cot, data_dir=args.data_dir,
            scoring=args.scoring, seed=args.seed, batch_size=args.batch_size, compile=args.compile,
            thinking={name: getattr(args, name) for name in THINKING_FLAGS}, grade_timeout=args.grade_timeout,
            grade_after_thinking=args.grade_after_thinking, resume=args.resume, world=world, progress=world.is_main,
        )  # fmt: skip
    if world.is_main:
        print(format_summaries(summaries))
        print(f"records and summary.json: {args.out}")


def run_budget(args: argparse.Namespace) -> None:
    import dataclasses

    from reasoning.checkpoint import load_pretrained
    from reasoning.evaluation.budget import budget_name, evaluate_budgets, report_budget_curves
    from reasoning.evaluation.run import check_not_started
    from reasoning.evaluation.tasks import check_prompts
    from reasoning.generation.endpoint import endpoint_from_args
    from reasoning.generation.remote import connect

    tasks, protocol = _tasks_and_protocol(args)
    endpoint = endpoint_from_args(args)
    swept = [dataclasses.replace(task, name=budget_name(task.name, budget)) for task in tasks for budget in args.budgets]
    check_not_started(args.out, swept, args.resume)  # before any weights load
    check_prompts(tasks, protocol.prompt, 0)
    model, tokenizer = connect(endpoint) if endpoint else load_pretrained(args.model, device=args.device)
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

    print(comparison(args.results, args.plot, args.format))
    if args.plot:  # after a results table, on stderr: the table stays pure markdown or CSV
        print(f"plot: {args.plot}", file=sys.stdout if args.format == "text" else sys.stderr)


def run_score(args: argparse.Namespace) -> None:
    from reasoning.evaluation.crosscheck import format_cross_checks
    from reasoning.evaluation.rescore import rescore
    from reasoning.evaluation.summary import format_summaries

    checks = {} if args.cross_check else None
    print(format_summaries(rescore(args.results, write=args.write, after_thinking=args.grade_after_thinking, cross_checks=checks)))
    if checks is not None:
        print(format_cross_checks(checks))
