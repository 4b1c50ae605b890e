"""Thinking budgets: accuracy against how long a reasoning model may think (Qwen3's thinking
budget, s1's budget forcing).

First one problem by hand: the model thinks under a small budget, the engine forces the close
("time is up ... </think>") and the answer follows; the forced tokens are marked. Then the curve:
every sample thinks once under the largest budget and branches at each smaller one (sharing
its cached thinking), so the whole curve costs about one decode. Printed as a table, and drawn
with --plot. The same job is `reasoning eval budget`.

    python chapters/ch04b_thinking_budget.py --model qwen3-0.6b --budgets 128,256,512,1024 --limit 30 --plot budget.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reasoning.checkpoint import load_pretrained
from reasoning.cli import run_command
from reasoning.evaluation.benchmarks import load_benchmarks, parse_benchmarks
from reasoning.evaluation.budget import evaluate_budgets, report_budget_curves
from reasoning.evaluation.protocols import get_protocol
from reasoning.flags import positive_int
from reasoning.generation import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen3-0.6b")
    parser.add_argument("--bench", default="math500")
    parser.add_argument("--budgets", default="128,256,512,1024")
    parser.add_argument("--n", type=positive_int, default=4, help="samples per problem")
    parser.add_argument("--answer-budget", type=positive_int, default=512, help="tokens after </think>")
    parser.add_argument("--data-dir", type=Path, help="local benchmark files (default: the hub)")
    parser.add_argument("--limit", type=positive_int, default=30, help="problems per benchmark")
    parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--out", type=Path, default=Path("results/thinking-budget"))
    parser.add_argument("--plot", type=Path, help="draw the curve (PNG, needs matplotlib)")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    names, budgets = parse_benchmarks(args.bench), sorted(int(b) for b in args.budgets.split(","))
    tasks = load_benchmarks(names, data_dir=args.data_dir, limit=args.limit)
    model, tokenizer = load_pretrained(args.model)
    question = tasks[0].problems[0].question
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True)
    [result] = generate(model, tokenizer, [prompt], max_new_tokens=budgets[0] + 256, thinking_budget=budgets[0], answer_budget=256)
    forced = tokenizer.decode([t for t, was_forced in zip(result.token_ids, result.forced) if was_forced])
    print(f"{question[:80]}...\nthinking budget {budgets[0]}: {result.thinking_tokens} thinking tokens, "
          f"{result.forced_tokens} forced ({forced!r}), {result.answer_tokens} answer tokens")  # fmt: skip
    print(f"the answer: ...{(result.text or '')[-200:]!r}\n")

    protocol = get_protocol("qwen3").with_overrides(n=args.n, max_new_tokens=budgets[-1] + 64 + args.answer_budget)
    evaluate_budgets(
        model, tokenizer, tasks, protocol, budgets, args.out, model_name=args.model, kind="reasoning",
        answer_budget=args.answer_budget, batch_size=args.batch_size, resume=args.resume,
    )  # fmt: skip
    print(report_budget_curves(args.out, names, plot=args.plot))


OFFLINE = (
    "pass --data-dir DIR (local benchmark copies, such as ../shared/data/benchmarks) and a local checkpoint "
    "directory as --model, or run offline: python chapters/ch06_grpo.py (the toy task)"
)

if __name__ == "__main__":
    if status := run_command("ch04b_thinking_budget.py", main, offline=OFFLINE):  # no SystemExit on success (runpy, %run)
        sys.exit(status)
