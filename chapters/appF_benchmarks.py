"""Appendix F: evaluating on several benchmarks the way reasoning papers report them.

For each benchmark, n samples per problem under a sampling protocol (DeepSeek-R1's or Qwen3's),
graded as they finish; then pass@1 with its standard error over problems, the unbiased pass@k
and majority vote maj@k. Multiple-choice MMLU can also be scored without generation, from the
likelihood of each choice letter, as the appendix does. The same job is `reasoning eval run`.

    python chapters/appF_benchmarks.py --model qwen3-0.6b --bench math500,aime24,gsm8k --protocol qwen3 --n 4 --limit 30
    python chapters/appF_benchmarks.py --model qwen3-0.6b-base --bench mmlu-stem --scoring loglik \\
        --data-dir ../shared/data/benchmarks
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reasoning.checkpoint import load_pretrained
from reasoning.cli import run_command
from reasoning.evaluation.benchmarks import BENCHMARKS, load_benchmarks, parse_benchmarks
from reasoning.evaluation.metrics import pass_at_k
from reasoning.evaluation.protocols import PROTOCOLS, SCORING, get_protocol
from reasoning.evaluation.run import evaluate
from reasoning.evaluation.summary import format_summaries
from reasoning.flags import positive_int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen3-0.6b")
    parser.add_argument("--bench", default="math500,aime24,gsm8k", help="comma-separated benchmark names")
    parser.add_argument("--protocol", default="qwen3", choices=PROTOCOLS)
    parser.add_argument("--n", type=positive_int, default=4, help="samples per problem")
    parser.add_argument("--max-new-tokens", type=positive_int, default=4096)
    parser.add_argument("--scoring", default="generate", choices=SCORING)
    parser.add_argument("--data-dir", type=Path, help="local benchmark files (default: the hub)")
    parser.add_argument("--limit", type=positive_int, default=30, help="problems per benchmark")
    parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--out", type=Path, default=Path("results/appF"))
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    tasks = load_benchmarks(parse_benchmarks(args.bench), data_dir=args.data_dir, limit=args.limit)
    for task in tasks:
        first = task.problems[0]
        print(f"{task.name}: {len(task.problems)} problems; the first: {first.question[:60]!r}..., gold {first.answer!r}")
    print("pass@k from n = 4 samples of which 1 is correct:", ", ".join(f"pass@{k} = {pass_at_k(4, 1, k):.2f}" for k in (1, 2, 4)))
    print(f"benchmarks: {', '.join(f'{b.name} ({b.kind})' for b in BENCHMARKS.values())}\n")

    protocol = get_protocol(args.protocol).with_overrides(n=args.n, max_new_tokens=args.max_new_tokens)
    model, tokenizer = load_pretrained(args.model)
    summaries = evaluate(
        model, tokenizer, tasks, args.out, model_name=args.model, protocol=protocol, scoring=args.scoring,
        batch_size=args.batch_size, resume=args.resume,
    )  # fmt: skip
    print(format_summaries(summaries))


OFFLINE = (
    "pass --data-dir DIR (local benchmark copies, such as ../shared/data/benchmarks) and a local checkpoint "
    "directory as --model, or run offline: python chapters/ch06_grpo.py (the toy task)"
)

if __name__ == "__main__":
    if status := run_command("appF_benchmarks.py", main, offline=OFFLINE):  # no SystemExit on success (runpy, %run)
        sys.exit(status)
