"""`reasoning eval math500`, `eval compare` and `eval score`: argument parsing and calls, no logic."""

from __future__ import annotations

import argparse
from pathlib import Path

from reasoning.evaluation.strategies import SAMPLING, SCORERS, STRATEGIES
from reasoning.flags import input_file, non_negative_float, non_negative_int, output_file, positive_int, probability


def add_eval_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `eval math500`, `eval compare` and `eval score`."""
    parser = subparsers.add_parser("eval", help="evaluate a model on MATH-500, or re-score saved results")
    commands = parser.add_subparsers(dest="eval_command", required=True)

    math = commands.add_parser("math500", help="generate, grade and record MATH-500 answers (resumable)")
    math.add_argument("--model", required=True, help="alias (qwen3-0.6b-base), hub id, or checkpoint directory")
    math.add_argument("--data", type=input_file, help="local MATH-500 .json/.jsonl (default: the hub's HuggingFaceH4/MATH-500)")
    math.add_argument("--limit", type=positive_int, help="evaluate the first N problems only")
    math.add_argument("--kind", choices=["auto", "base", "reasoning"], default="auto",
                      help="prompt format: plain prompt (base) or chat template (reasoning); auto from the tokenizer")
    math.add_argument("--cot", action="store_true", help="append the chain-of-thought suffix")
    math.add_argument("--no-thinking", action="store_true", help="reasoning models: thinking off")
    math.add_argument("--batch-size", type=positive_int, default=16, help="requests decoded at once (KV cache rows)")
    math.add_argument("--max-new-tokens", type=positive_int, default=2048)
    math.add_argument("--strategy", default="greedy", choices=STRATEGIES,
                      help="inference-time method: greedy decoding, chain of thought (greedy + CoT prompt), one sample, "
                           "self-consistency (majority vote of --n samples), best-of-n (--scorer picks), self-refine")
    math.add_argument("--n", type=positive_int, default=8, help="samples per problem for self-consistency and best-of-n")
    math.add_argument("--rounds", type=non_negative_int, default=2, help="self-refine: critique-and-revise rounds at most")
    math.add_argument("--scorer", default="logprob", choices=SCORERS,
                      help="best-of-n / self-refine: mean token log-prob, text heuristic, or the model as judge")
    math.add_argument("--tie-break", default="first", choices=["first", "logprob"],
                      help="self-consistency: equal votes go to the first group, or the higher mean log-prob")
    math.add_argument("--early-stop", action="store_true", help="self-consistency: stop sampling once the vote is decided")
    math.add_argument("--temperature", type=non_negative_float,
                      help=f"default 0 (greedy), or {SAMPLING['temperature']} for strategies that sample")
    math.add_argument("--top-p", type=probability, help=f"default 1, or {SAMPLING['top_p']} for strategies that sample")
    math.add_argument("--seed", type=int, default=0)
    math.add_argument("--device", default="auto")
    math.add_argument("--compile", action="store_true", help="torch.compile the decode step")
    math.add_argument("--out", type=output_file, help="results JSONL (default: results/math500-<model>.jsonl)")
    math.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    math.set_defaults(func=run_math500)

    compare = commands.add_parser("compare", help="a table of several runs: method, accuracy, tokens per problem, time")
    compare.add_argument("results", type=input_file, nargs="+", help="results JSONL files (their settings header names the method)")
    compare.add_argument("--plot", type=output_file, help="also draw accuracy and tokens per problem as bars (PNG, needs matplotlib)")
    compare.set_defaults(func=run_compare)

    score = commands.add_parser("score", help="re-grade saved results and print the summary")
    score.add_argument("results", type=input_file)
    score.add_argument("--write", action="store_true", help="save the re-graded records back to the file")
    score.set_defaults(func=run_score)


def run_math500(args: argparse.Namespace) -> None:
    from reasoning.checkpoint import load_pretrained
    from reasoning.data import load_math500
    from reasoning.evaluation.math500 import evaluate_math500
    from reasoning.evaluation.report import format_summary, summarize
    from reasoning.evaluation.strategies import MULTI_SAMPLE, Strategy
    from reasoning.generation.api import GenerationConfig

    multi = args.strategy in MULTI_SAMPLE
    strategy = Strategy(
        args.strategy, n=args.n if multi else 1, rounds=args.rounds, scorer=args.scorer, tie_break=args.tie_break,
        early_stop=args.early_stop,
    )  # fmt: skip
    sampling = SAMPLING if strategy.samples else {"temperature": 0.0, "top_p": 1.0}
    config = GenerationConfig(
        max_new_tokens=args.max_new_tokens, seed=args.seed, max_batch_size=args.batch_size, compile=args.compile,
        temperature=sampling["temperature"] if args.temperature is None else args.temperature,
        top_p=sampling["top_p"] if args.top_p is None else args.top_p,
    )  # fmt: skip
    problems = load_math500(args.data, limit=args.limit)
    if not problems:
        raise ValueError(f"nothing to evaluate: {args.data or 'MATH-500'} holds no problems")
    model, tokenizer = load_pretrained(args.model, device=args.device)
    kind = args.kind if args.kind != "auto" else ("base" if tokenizer.base else "reasoning")
    suffix = "" if strategy.name == "greedy" else "-" + strategy.slug
    out = args.out or Path("results") / f"math500-{Path(args.model).name}{suffix}.jsonl"
    records = evaluate_math500(
        model, tokenizer, problems, config, out, model_name=args.model, kind=kind, strategy=strategy, cot=args.cot,
        enable_thinking=not args.no_thinking, resume=args.resume,
    )  # fmt: skip
    print(format_summary(summarize(records)))
    print(f"records: {out}")


def run_compare(args: argparse.Namespace) -> None:
    from reasoning.evaluation.report import comparison

    print(comparison(args.results, args.plot))
    if args.plot:
        print(f"plot: {args.plot}")


def run_score(args: argparse.Namespace) -> None:
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

