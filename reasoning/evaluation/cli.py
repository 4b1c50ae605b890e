"""`reasoning eval run`, `eval budget`, `eval math500`, `eval compare` and `eval score`: argument parsing and calls, no logic."""

from __future__ import annotations

import argparse
from pathlib import Path

from reasoning.evaluation.protocols import PROTOCOLS, SCORING
from reasoning.evaluation.strategies import SAMPLING, SCORERS, STRATEGIES, TIE_BREAKS
from reasoning.flags import input_file, non_negative_int, output_dir, output_file, positive_float, positive_int
from reasoning.generation.cli import QUANTIZE
from reasoning.generation.options import THINKING_FLAGS, add_generation_flags

# The sampling fields a protocol presets; a flag left unset keeps the preset's value.
_PROTOCOL_FIELDS = ("n", "temperature", "top_p", "top_k", "min_p", "max_new_tokens")


def add_eval_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `eval run`, `eval budget`, `eval math500`, `eval compare` and `eval score`."""
    parser = subparsers.add_parser("eval", help="evaluate a model on benchmarks, or re-score and compare saved results")
    commands = parser.add_subparsers(dest="eval_command", required=True)
    _add_run_parser(commands)
    _add_budget_parser(commands)

    math = commands.add_parser("math500", help="generate, grade and record MATH-500 answers (resumable)")
    math.add_argument("--model", required=True, help="alias (qwen3-0.6b-base), hub id, or checkpoint directory")
    math.add_argument("--data", type=input_file, help="local MATH-500 .json/.jsonl (default: the hub's HuggingFaceH4/MATH-500)")
    math.add_argument("--limit", type=positive_int, help="evaluate the first N problems only")
    math.add_argument("--kind", choices=["auto", "base", "reasoning"], default="auto",
                      help="prompt format: plain prompt (base) or chat template (reasoning); auto from the tokenizer")
    math.add_argument("--cot", action="store_true", help="append the chain-of-thought suffix")
    math.add_argument("--no-thinking", action="store_true", help="reasoning models: thinking off")
    math.add_argument("--batch-size", type=positive_int, default=16, help="requests decoded at once")
    math.add_argument("--strategy", default="greedy", choices=list(STRATEGIES),
                      help="inference-time method: greedy decoding, chain of thought (greedy + CoT prompt), one sample, "
                           "self-consistency (majority vote of --n samples), best-of-n (--scorer picks), self-refine")
    math.add_argument("--n", type=positive_int, default=8, help="samples per problem for self-consistency and best-of-n")
    math.add_argument("--rounds", type=non_negative_int, default=2, help="self-refine: critique-and-revise rounds at most")
    math.add_argument("--scorer", default="logprob", choices=SCORERS,
                      help="best-of-n / self-refine: mean token log-prob, text heuristic, or the model as judge")
    math.add_argument("--tie-break", default="first", choices=TIE_BREAKS,
                      help="self-consistency: equal votes go to the first group, or the higher mean log-prob")
    math.add_argument("--early-stop", action="store_true", help="self-consistency: stop sampling once the vote is decided")
    add_generation_flags(math, ("max_new_tokens", "temperature", "top_p", *THINKING_FLAGS, "compile"), max_new_tokens=2048, temperature=None, top_p=None)
    math.add_argument("--seed", type=int, default=0)
    math.add_argument("--device", default="auto")
    math.add_argument("--quantize", default="none", choices=QUANTIZE, help="int8: int8 weights in the linear layers (faster decoding on CPU)")
    math.add_argument("--out", type=output_file, help="results JSONL (default: results/math500-<model>.jsonl)")
    math.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    math.set_defaults(func=run_math500)

    compare = commands.add_parser(
        "compare", help="two run directories: paired differences of pass@1 with confidence intervals; or a table of results files"
    )
    compare.add_argument("results", type=_existing, nargs="+",
                         help="two `eval run` directories (A B), or MATH-500 results JSONL files")
    compare.add_argument("--plot", type=output_file, help="also draw the accuracies (PNG, needs matplotlib)")
    compare.set_defaults(func=run_compare)

    score = commands.add_parser("score", help="re-grade saved results (an `eval run` directory or a results file) and print the summary")
    score.add_argument("results", type=_existing)
    score.add_argument("--write", action="store_true", help="save the re-graded records back")
    score.set_defaults(func=run_score)


def _add_run_parser(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run", help="benchmarks under a sampling protocol: pass@1 ± stderr, pass@k, maj@k (resumable, torchrun-aware)"
    )
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
    run.add_argument("--scoring", default="generate", choices=SCORING,
                     help="generate and grade; or, for multiple choice, each letter's likelihood after the prompt")
    run.add_argument("--kind", choices=["auto", "base", "reasoning"], default="auto",
                     help="prompt format: plain prompt (base) or chat template (reasoning); auto from the tokenizer")
    run.add_argument("--no-thinking", action="store_true", help="reasoning models: thinking off")
    run.add_argument("--data-dir", type=_directory, help="read every benchmark from local files in DIR (offline copies)")
    run.add_argument("--data", type=input_file, help="read the one benchmark from this .json/.jsonl file")
    run.add_argument("--limit", type=positive_int, help="the first N problems of each benchmark")
    run.add_argument("--batch-size", type=positive_int, default=16, help="sequences decoded at once")
    run.add_argument("--grade-timeout", type=positive_float, default=2.0, help="seconds one grade may take")
    run.add_argument("--device", default="auto")
    run.add_argument("--quantize", default="none", choices=QUANTIZE, help="int8: int8 weights in the linear layers (faster decoding on CPU)")
    run.add_argument("--out", type=output_dir, required=True, help="run directory: <bench>.jsonl records and summary.json")
    run.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    run.set_defaults(func=run_suite)


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
    budget.add_argument("--data-dir", type=_directory, help="read every benchmark from local files in DIR (offline copies)")
    budget.add_argument("--data", type=input_file, help="read the one benchmark from this .json/.jsonl file")
    budget.add_argument("--limit", type=positive_int, help="the first N problems of each benchmark")
    budget.add_argument("--batch-size", type=positive_int, default=16, help="sequences decoded at once")
    budget.add_argument("--device", default="auto")
    budget.add_argument("--out", type=output_dir, required=True, help="run directory: <bench>@<budget>.jsonl records and summary.json")
    budget.add_argument("--plot", type=output_file, help="also draw accuracy against budget (PNG, needs matplotlib)")
    budget.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    budget.set_defaults(func=run_budget)


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


def _benchmarks_and_protocol(args: argparse.Namespace):
    """The benchmark names, the protocol with the flags' overrides, and the problems (read
    before any weights, so a missing file fails in a second)."""
    from reasoning.evaluation.benchmarks import load_benchmarks, parse_benchmarks
    from reasoning.evaluation.protocols import get_protocol

    names = parse_benchmarks(args.bench)
    protocol = get_protocol(args.protocol).with_overrides(
        n=args.n, temperature=args.temperature, top_p=args.top_p, top_k=args.top_k, min_p=args.min_p,
        max_new_tokens=args.max_new_tokens,
    )  # fmt: skip
    return names, protocol, load_benchmarks(names, data_dir=args.data_dir, data=args.data, limit=args.limit)


def run_suite(args: argparse.Namespace) -> None:
    from reasoning.checkpoint import load_pretrained
    from reasoning.device import get_device
    from reasoning.evaluation.suite import Share
    from reasoning.evaluation.suite_model import evaluate_suite
    from reasoning.evaluation.summary import format_summaries
    from reasoning.rl import distributed

    names, protocol, suite = _benchmarks_and_protocol(args)
    device = distributed.local_device(get_device(args.device))  # cuda:LOCAL_RANK under torchrun
    with distributed.process_group(device) as world:  # the ranks only wait for each other between benchmarks
        model, tokenizer = load_pretrained(args.model, device=device, quantize=args.quantize)
        kind = args.kind if args.kind != "auto" else ("base" if tokenizer.base else "reasoning")
        summaries = evaluate_suite(
            model, tokenizer, suite, protocol, args.out, model_name=args.model, kind=kind,
            enable_thinking=not args.no_thinking, scoring=args.scoring, seed=args.seed, batch_size=args.batch_size,
            compile=args.compile, thinking={name: getattr(args, name) for name in THINKING_FLAGS},
            resume=args.resume, share=Share(world.rank, world.world_size),
            barrier=lambda: distributed.barrier(world), progress=world.is_main,
        )  # fmt: skip
    if world.is_main:
        print(format_summaries(summaries))
        print(f"records and summary.json: {args.out}")


def run_budget(args: argparse.Namespace) -> None:
    from reasoning.checkpoint import load_pretrained
    from reasoning.evaluation.budget import evaluate_budgets, report_budget_curves

    names, protocol, suite = _benchmarks_and_protocol(args)
    model, tokenizer = load_pretrained(args.model, device=args.device)
    evaluate_budgets(
        model, tokenizer, suite, protocol, args.budgets, args.out, model_name=args.model, kind="reasoning",
        answer_budget=args.answer_budget, seed=args.seed, batch_size=args.batch_size, resume=args.resume,
    )  # fmt: skip
    print(report_budget_curves(args.out, names, plot=args.plot))
    print(f"records and summary.json: {args.out}")


def run_math500(args: argparse.Namespace) -> None:
    from reasoning.checkpoint import load_pretrained
    from reasoning.data import load_math500
    from reasoning.evaluation.math500 import evaluate_math500
    from reasoning.evaluation.report import format_summary, summarize
    from reasoning.evaluation.strategies import Greedy, parse_strategy
    from reasoning.generation import GenerationConfig

    strategy = parse_strategy(
        args.strategy, n=args.n, rounds=args.rounds, scorer=args.scorer, tie_break=args.tie_break, early_stop=args.early_stop
    )  # fmt: skip
    sampling = SAMPLING if strategy.samples else {"temperature": 0.0, "top_p": 1.0}
    config = GenerationConfig(
        max_new_tokens=args.max_new_tokens, seed=args.seed, max_batch_size=args.batch_size, compile=args.compile,
        temperature=sampling["temperature"] if args.temperature is None else args.temperature,
        top_p=sampling["top_p"] if args.top_p is None else args.top_p,
        **{name: getattr(args, name) for name in THINKING_FLAGS},
    )  # fmt: skip
    problems = load_math500(args.data, limit=args.limit)
    if not problems:
        raise ValueError(f"nothing to evaluate: {args.data or 'MATH-500'} holds no problems")
    model, tokenizer = load_pretrained(args.model, device=args.device, quantize=args.quantize)
    kind = args.kind if args.kind != "auto" else ("base" if tokenizer.base else "reasoning")
    suffix = "" if strategy == Greedy() else "-" + strategy.slug  # plain greedy keeps the plain file name
    out = args.out or Path("results") / f"math500-{Path(args.model).name}{suffix}.jsonl"
    records = evaluate_math500(
        model, tokenizer, problems, config, out, model_name=args.model, kind=kind, strategy=strategy, cot=args.cot,
        enable_thinking=not args.no_thinking, resume=args.resume,
    )  # fmt: skip
    print(format_summary(summarize(records)))
    print(f"records: {out}")


def run_compare(args: argparse.Namespace) -> None:
    if all(path.is_dir() for path in args.results):
        if len(args.results) != 2:
            raise ValueError(f"compare takes two run directories (A B), got {len(args.results)}")
        _compare_runs(*args.results, plot=args.plot)
        return
    if any(path.is_dir() for path in args.results):
        raise ValueError("compare either two run directories or several results files, not a mix")
    from reasoning.evaluation.report import comparison

    print(comparison(args.results, args.plot))
    if args.plot:
        print(f"plot: {args.plot}")


def _compare_runs(first: Path, second: Path, plot: Path | None) -> None:
    from reasoning.evaluation.suite import benchmarks_in, read_benchmark
    from reasoning.evaluation.summary import compare_records, format_comparison, plot_benchmarks, summarize_benchmark

    shared = [bench for bench in benchmarks_in(first) if bench in benchmarks_in(second)]
    if not shared:
        raise ValueError(f"{first} and {second} share no benchmark")
    rows, summaries = {}, {str(first): {}, str(second): {}}
    for bench in shared:
        a, b = read_benchmark(first, bench)[1], read_benchmark(second, bench)[1]
        summaries[str(first)][bench], summaries[str(second)][bench] = summarize_benchmark(a), summarize_benchmark(b)
        rows[bench] = (summaries[str(first)][bench]["pass@1"], summaries[str(second)][bench]["pass@1"], compare_records(a, b))
    print(format_comparison((str(first), str(second)), rows))
    if plot:
        plot_benchmarks(summaries, str(plot))
        print(f"plot: {plot}")


def run_score(args: argparse.Namespace) -> None:
    if args.results.is_dir():
        _score_run(args.results, write=args.write)
        return
    from reasoning.evaluation.records import read_run, write_records
    from reasoning.evaluation.report import format_summary, summarize
    from reasoning.evaluation.runner import regrade

    settings, records = read_run(args.results, required=("completion", "gold"))  # what grading needs again
    if not records:
        raise ValueError(f"nothing to score: {args.results} holds no records")
    records = regrade(records)
    if args.write:
        write_records(args.results, records, settings)
    print(format_summary(summarize(records)))


def _score_run(out_dir: Path, *, write: bool) -> None:
    """Re-grade every benchmark of a run directory; with `write`, save the records and summary.json."""
    from reasoning.evaluation.benchmarks import BENCHMARKS
    from reasoning.evaluation.records import read_run, write_records
    from reasoning.evaluation.suite import benchmark_files, benchmarks_in, read_benchmark, regrade, write_summary
    from reasoning.evaluation.summary import format_summaries, summarize_benchmark

    benches = benchmarks_in(out_dir)
    if not benches:
        raise ValueError(f"nothing to score: {out_dir} holds no benchmark records")
    summaries = {}
    for bench in benches:
        settings, records = read_benchmark(out_dir, bench)
        regraded = regrade(BENCHMARKS[bench], records)
        summaries[bench] = summarize_benchmark(regraded)
        if write:
            by_id = {record["id"]: record for record in regraded}
            for path in benchmark_files(out_dir, bench):  # each rank's file keeps its own problems
                write_records(path, [by_id[record["id"]] for record in read_run(path)[1]], settings)
    if write:
        write_summary(out_dir)
    print(format_summaries(summaries))
