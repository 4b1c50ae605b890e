"""`reasoning distill generate` and `reasoning distill import`: argument parsing and calls, no logic.

Building the parser imports no torch."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from reasoning.commands.generate import DTYPES
from reasoning.flags import input_file, output_file, positive_int
from reasoning.generation.endpoint import add_endpoint_flags
from reasoning.generation.options import add_generation_flags

if TYPE_CHECKING:
    from reasoning.evaluation.tasks import Task

_SAMPLING = ("n", "max_new_tokens", "temperature", "top_p")


def add_distill_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `distill generate` and `distill import`."""
    parser = subparsers.add_parser("distill", help="distillation data: a teacher's correct reasoning traces, generated or imported")
    commands = parser.add_subparsers(dest="distill_command", required=True)

    generate = commands.add_parser(
        "generate",
        help="a teacher samples --n solutions per problem; the correct, finished, distinct ones are kept as traces (resumable)",
        description="Defaults are Qwen3's thinking-mode sampling: --n 4, --temperature 0.6, --top-p 0.95, "
                    "--max-new-tokens 4096, --seed 0.",
    )  # fmt: skip
    generate.add_argument("--teacher", required=True, help="alias (qwen3-8b), hub id, checkpoint directory, or openai:URL (a server)")
    source = generate.add_mutually_exclusive_group(required=True)
    source.add_argument("--bench", help="a math benchmark by name: math500, aime24, aime25, amc23, gsm8k, minerva, olympiadbench")
    source.add_argument("--dataset", help=".json/.jsonl file or hub dataset of problems with reference answers")
    generate.add_argument("--data-dir", type=Path, help="with --bench: read it from its local file in DIR")
    generate.add_argument("--data", type=input_file, help="with --bench: read it from this .json/.jsonl file")
    generate.add_argument("--question-field", default="question", help="with --dataset: the field holding the question")
    generate.add_argument("--answer-field", default="answer", help="with --dataset: the field holding the reference answer")
    generate.add_argument("--limit", type=positive_int, help="the first N problems only")
    generate.add_argument("--prompt", choices=["math", "plain"], default="math",
                          help="the teacher reads the boxed-answer math prompt (as eval asks) or the problem as written")
    add_generation_flags(generate, _SAMPLING, **dict.fromkeys(_SAMPLING))  # None: the distillation default
    generate.add_argument("--seed", type=int, help="sampling seed (each problem's samples have their own stream)")
    generate.add_argument("--batch-size", type=positive_int, default=16, help="sequences decoded at once")
    generate.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps, xpu")
    generate.add_argument("--dtype", default="auto", choices=DTYPES)
    generate.add_argument("--out", type=output_file, required=True, help="traces JSONL (progress beside it, <out>.progress.jsonl)")
    generate.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    add_endpoint_flags(generate)
    generate.set_defaults(func=run_generate)

    imported = commands.add_parser(
        "import", help="traces made elsewhere (JSON lines with problem, thinking, answer): validate, deduplicate, write ours"
    )
    imported.add_argument("traces", type=input_file, help="JSONL of traces")
    imported.add_argument("--out", type=output_file, required=True, help="traces JSONL in this package's format")
    imported.add_argument("--grade", action="store_true", help="keep only traces whose \\boxed{} answer equals their gold")
    imported.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    imported.set_defaults(func=run_import)


def run_generate(args: argparse.Namespace) -> None:
    from reasoning.checkpoint import load_model_and_tokenizer
    from reasoning.generation.endpoint import endpoint_from_args
    from reasoning.generation.options import generation_config
    from reasoning.generation.remote import connect
    from reasoning.sft.distill import DISTILL_CONFIG, generate_traces, progress_path, refuse_existing

    task, source = _task(args)  # before any weights: a bad file fails in a second
    endpoint = endpoint_from_args(args, "teacher")
    if not args.resume:
        refuse_existing(args.out)
    config = generation_config(args, DISTILL_CONFIG).with_options(max_batch_size=args.batch_size)
    model, tokenizer = connect(endpoint) if endpoint else load_model_and_tokenizer(args.teacher, args.device, args.dtype)
    summary = generate_traces(
        model, tokenizer, task, args.out, teacher=args.teacher, config=config, settings={"source": source}, resume=args.resume
    )  # fmt: skip
    print("  ".join(f"{name} {value:.1%}" if name == "keep_rate" else f"{name} {value}" for name, value in summary.items()))
    print(f"traces: {args.out}   progress: {progress_path(args.out)}")


def _task(args: argparse.Namespace) -> tuple[Task, str]:
    """The problems as a task (prompted with --prompt's template, graded by the task), and the
    source's name for the run's settings."""
    from dataclasses import replace

    from reasoning.evaluation.benchmarks import get_benchmark
    from reasoning.training.data import load_task

    if args.bench is not None and get_benchmark(args.bench).kind != "math":
        raise ValueError(f"distill generate keeps math solutions; {args.bench} is multiple choice")
    task = load_task(
        dataset=args.dataset, bench=args.bench, data_dir=args.data_dir, data=args.data, question_field=args.question_field,
        answer_field=args.answer_field, limit=args.limit,
    )  # fmt: skip
    return replace(task, template=args.prompt), str(args.dataset) if args.dataset is not None else f"bench:{args.bench}"


def run_import(args: argparse.Namespace) -> None:
    from reasoning.sft.distill import grade_traces
    from reasoning.sft.traces import deduplicate, read_traces, write_traces

    if args.out.exists() and not args.overwrite:
        raise ValueError(f"{args.out} already exists: pass --overwrite to replace it, or choose another --out")
    traces = read_traces(args.traces, dedup=False)
    if not traces:
        raise ValueError(f"{args.traces} holds no traces: expected JSON lines with problem, thinking and answer")
    unique = deduplicate(traces)
    kept = [trace for trace, right in zip(unique, grade_traces(unique)) if right] if args.grade else unique
    write_traces(args.out, kept)
    wrong = f"  incorrect {len(unique) - len(kept)}" if args.grade else ""
    print(f"read {len(traces)}  duplicates {len(traces) - len(unique)}{wrong}  kept {len(kept)}")
    print(f"traces: {args.out}")
