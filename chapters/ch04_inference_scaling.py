"""Chapter 4: inference-time scaling: chain of thought, sampling, self-consistency, best-of-N.

Show one problem answered greedily, with the chain-of-thought suffix, and by self-consistency
(its samples' answers and the vote), then evaluate each method on the first --limit MATH-500
problems and print the comparison: accuracy against the tokens each method spends. Every run
is resumable (results/ch04-*/); the same runs are `reasoning eval run --bench math500
--strategy ...` and the table is `reasoning eval compare`.

    python chapters/ch04_inference_scaling.py --model qwen3-0.6b-base --limit 50 --n 8
    python chapters/ch04_inference_scaling.py --model qwen3-0.6b-base --data ../shared/data/math500_test.json --plot ch04.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reasoning.checkpoint import load_pretrained
from reasoning.cli import run_command
from reasoning.evaluation.benchmarks import load_benchmark
from reasoning.evaluation.compare import comparison
from reasoning.evaluation.protocols import Protocol, get_protocol
from reasoning.evaluation.run import evaluate
from reasoning.evaluation.strategies import BestOfN, Independent, SelfConsistency
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

    task = load_benchmark("math500", data=args.data, limit=args.limit)
    model, tokenizer = load_pretrained(args.model)
    kind = "base" if tokenizer.base else "reasoning"
    chat = tokenizer.apply_chat_template  # the checkpoint's own chat template, if it ships one
    greedy = get_protocol("greedy").with_overrides(max_new_tokens=args.max_new_tokens)
    sampled = Protocol("sample", temperature=0.8, top_p=0.9, max_new_tokens=args.max_new_tokens)  # the book's sampling

    example = task.problems[0]
    print(f"problem: {example.question}\ngold answer: {example.answer}\n")
    for cot in (False, True):
        [result] = generate(model, tokenizer, build_prompt(example.question, kind=kind, cot=cot, chat=chat), max_new_tokens=args.max_new_tokens)
        print(f"--- greedy{' + chain of thought' if cot else ''} ({result.num_tokens} tokens)\n{result.text}\n")
    config = GenerationConfig(max_new_tokens=args.max_new_tokens, temperature=0.8, top_p=0.9, n=args.n, seed=0)
    [run] = self_consistency(model, tokenizer, [build_prompt(example.question, kind=kind, chat=chat)], config)
    print(f"--- self-consistency, {args.n} samples: answers {list(run.answers)}")
    print(f"votes {[(g.answer, g.count) for g in run.vote.groups]} -> {run.answer!r} ({run.tokens} tokens)\n")

    several = sampled.with_overrides(n=args.n)
    methods = {  # run directory: strategy, protocol, chain-of-thought suffix
        "greedy": (Independent(), greedy, False),
        "cot": (Independent(), greedy, True),
        "sample": (Independent(), sampled, False),
        "self-consistency": (SelfConsistency(), several, False),
        "best-of-n": (BestOfN(scorer="logprob"), several, False),
    }
    outputs = []
    for name, (strategy, protocol, cot) in methods.items():
        outputs.append(Path("results") / f"ch04-{name}")
        print(f"evaluating {name} -> {outputs[-1]}")
        evaluate(
            model, tokenizer, [task], outputs[-1], model_name=args.model, protocol=protocol, strategy=strategy, cot=cot,
            batch_size=args.batch_size, resume=args.resume,
        )  # fmt: skip
    print("\n" + comparison(outputs, args.plot))

OFFLINE = (
    "pass --data PATH (a local MATH-500 .json/.jsonl) and a local checkpoint directory as --model, "
    "or run offline: python chapters/ch06_grpo.py (the toy task)"
)

if __name__ == "__main__":
    if status := run_command("ch04_inference_scaling.py", main, offline=OFFLINE):  # no SystemExit on success (runpy, %run)
        sys.exit(status)
