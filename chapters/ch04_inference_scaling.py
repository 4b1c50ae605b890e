"""Chapter 4: inference-time scaling: chain of thought, sampling, self-consistency, best-of-N.

Show one problem answered greedily, with the chain-of-thought suffix, and by self-consistency
(its samples' answers and the vote), then evaluate each method on the first --limit MATH-500
problems and print the comparison: accuracy against the tokens each method spends. Every run
is resumable (results/ch04-*.jsonl); the same runs are `reasoning eval math500 --strategy ...`
and the table is `reasoning eval compare`.

    python chapters/ch04_inference_scaling.py --model qwen3-0.6b-base --limit 50 --n 8
    python chapters/ch04_inference_scaling.py --model qwen3-0.6b-base --data ../shared/data/math500_test.json --plot ch04.png
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from reasoning.checkpoint import load_pretrained
from reasoning.cli import run_command
from reasoning.data import load_math500
from reasoning.evaluation.math500 import evaluate_strategies
from reasoning.evaluation.report import comparison
from reasoning.evaluation.strategies import SAMPLING, BestOfN, ChainOfThought, Greedy, Sample, SelfConsistency
from reasoning.flags import positive_int
from reasoning.generation import GenerationConfig, generate
from reasoning.prompts import build_prompt
from reasoning.scaling import self_consistency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen3-0.6b-base")
    parser.add_argument("--data", type=Path, help="local MATH-500 .json/.jsonl (default: download from the hub)")
    parser.add_argument("--limit", type=positive_int, default=50)
    parser.add_argument("--n", type=positive_int, default=8, help="samples for self-consistency and best-of-n")
    parser.add_argument("--max-new-tokens", type=positive_int, default=1024)
    parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--plot", type=Path, help="bar chart of the comparison (PNG)")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    problems = load_math500(args.data, limit=args.limit)
    model, tokenizer = load_pretrained(args.model)
    kind = "base" if tokenizer.base else "reasoning"
    chat = tokenizer.apply_chat_template  # the checkpoint's own chat template, if it ships one
    greedy = GenerationConfig(max_new_tokens=args.max_new_tokens, max_batch_size=args.batch_size)
    sampled = GenerationConfig(max_new_tokens=args.max_new_tokens, max_batch_size=args.batch_size, seed=0, **SAMPLING)

    example = problems[0]
    print(f"problem: {example.question}\ngold answer: {example.answer}\n")
    for cot in (False, True):
        [result] = generate(model, tokenizer, build_prompt(example.question, kind=kind, cot=cot, chat=chat), max_new_tokens=args.max_new_tokens)
        print(f"--- greedy{' + chain of thought' if cot else ''} ({result.num_tokens} tokens)\n{result.text}\n")
    [run] = self_consistency(model, tokenizer, [build_prompt(example.question, kind=kind, chat=chat)], replace(sampled, n=args.n))
    print(f"--- self-consistency, {args.n} samples: answers {list(run.answers)}")
    print(f"votes {[(g.answer, g.count) for g in run.vote.groups]} -> {run.answer!r} ({run.tokens} tokens)\n")

    methods = [
        (Greedy(), greedy),
        (ChainOfThought(), greedy),
        (Sample(), sampled),
        (SelfConsistency(n=args.n), sampled),
        (BestOfN(n=args.n, scorer="logprob"), sampled),
    ]
    outputs = evaluate_strategies(
        model, tokenizer, problems, methods, "results", model_name=args.model, kind=kind, prefix="ch04", resume=args.resume
    )  # fmt: skip
    print("\n" + comparison(outputs, args.plot))


OFFLINE = (
    "pass --data PATH (a local MATH-500 .json/.jsonl) and a local checkpoint directory as --model, "
    "or run offline: python chapters/ch06_grpo.py (the toy task)"
)

if __name__ == "__main__":
    if status := run_command("ch04_inference_scaling.py", main, offline=OFFLINE):  # no SystemExit on success (runpy, %run)
        sys.exit(status)
