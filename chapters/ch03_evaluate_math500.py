"""Chapter 3: evaluating a reasoning model on MATH-500.

Load the problems and a model, show how one answer is extracted and graded, then run the
resumable evaluation (greedy decoding, up to 2048 new tokens, the published prompt) and print
accuracy overall, by subject and by level. The same job is `reasoning eval run --bench math500`.

    python chapters/ch03_evaluate_math500.py --model qwen3-0.6b-base --limit 50
    python chapters/ch03_evaluate_math500.py --model qwen3-0.6b --data ../shared/data/math500_test.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reasoning.checkpoint import load_pretrained
from reasoning.cli import run_command
from reasoning.evaluation.benchmarks import load_benchmark
from reasoning.evaluation.protocols import get_protocol
from reasoning.evaluation.run import evaluate
from reasoning.evaluation.summary import format_summaries
from reasoning.flags import positive_int
from reasoning.grading import extract_answer, grade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen3-0.6b-base")
    parser.add_argument("--data", type=Path, help="local MATH-500 .json/.jsonl (default: download from the hub)")
    parser.add_argument("--limit", type=positive_int, default=50)
    parser.add_argument("--max-new-tokens", type=positive_int, default=2048)
    parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--out", type=Path, default=Path("results/ch03"), help="run directory (math500.jsonl, summary.json)")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    task = load_benchmark("math500", data=args.data, limit=args.limit)
    example = task.problems[0]
    completion = f"The steps are ... so the result is \\boxed{{{example.answer}}}."
    extracted = extract_answer(completion)
    print(f"problem: {example.question[:80]}...\nextracted {extracted!r} -> {grade(extracted, example.answer)!r}\n")

    model, tokenizer = load_pretrained(args.model)
    greedy = get_protocol("greedy").with_overrides(max_new_tokens=args.max_new_tokens)
    summaries = evaluate(
        model, tokenizer, [task], args.out, model_name=args.model, protocol=greedy, batch_size=args.batch_size, resume=args.resume
    )  # fmt: skip
    print(format_summaries(summaries))


OFFLINE = (
    "pass --data PATH (a local MATH-500 .json/.jsonl) and a local checkpoint directory as --model, "
    "or run offline: python chapters/ch06_grpo.py (the toy task)"
)

if __name__ == "__main__":
    if status := run_command("ch03_evaluate_math500.py", main, offline=OFFLINE):  # no SystemExit on success (runpy, %run)
        sys.exit(status)
