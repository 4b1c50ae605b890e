"""Chapter 5: self-refinement: the model critiques and revises its own solution.

Refine one problem and show every round (the critique, the revision, its score, whether it
improved), then evaluate greedy decoding against self-refinement with each scorer on the
first --limit MATH-500 problems and print the comparison. The same runs are
`reasoning eval run --bench math500 --strategy self-refine --rounds K --scorer ...`.

    python chapters/ch05_self_refinement.py --model qwen3-0.6b-base --limit 50 --rounds 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reasoning.checkpoint import load_pretrained
from reasoning.cli import run_command
from reasoning.evaluation.benchmarks import load_benchmark
from reasoning.evaluation.compare import comparison
from reasoning.evaluation.protocols import get_protocol
from reasoning.evaluation.run import evaluate
from reasoning.evaluation.strategies import SCORERS, Independent, SelfRefine
from reasoning.flags import non_negative_int, positive_int
from reasoning.generation import GenerationConfig
from reasoning.prompts import build_prompt
from reasoning.scaling import make_scorer, self_refine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen3-0.6b-base")
    parser.add_argument("--data", type=Path, help="local MATH-500 .json/.jsonl (default: download from the hub)")
    parser.add_argument("--limit", type=positive_int, default=50)
    parser.add_argument("--rounds", type=non_negative_int, default=2)
    parser.add_argument("--scorers", nargs="+", default=["logprob", "heuristic"], choices=SCORERS)
    parser.add_argument("--max-new-tokens", type=positive_int, default=1024)
    parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--plot", type=Path, help="bar chart of the comparison (PNG)")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    task = load_benchmark("math500", data=args.data, limit=args.limit)
    model, tokenizer = load_pretrained(args.model)
    kind = "base" if tokenizer.base else "reasoning"
    config = GenerationConfig(max_new_tokens=args.max_new_tokens, max_batch_size=args.batch_size)

    example = task.problems[0]
    scorer = make_scorer(args.scorers[0], model, tokenizer, kind=kind, config=config)
    prompt = build_prompt(example.question, kind=kind, chat=tokenizer.apply_chat_template)
    [state] = self_refine(model, tokenizer, [example.question], [prompt], scorer=scorer, config=config, rounds=args.rounds, kind=kind)
    print(f"problem: {example.question}\ngold answer: {example.answer}\n")
    print(f"--- draft (score {state.draft_score.value:.3f})\n{state.draft.text}\n")
    for number, round_ in enumerate(state.rounds, 1):
        verdict = "improved" if round_.improved else "no better: stop"
        print(f"--- round {number} critique\n{round_.critique}\n--- revision (score {round_.score:.3f}, {verdict})\n{round_.revision}\n")

    greedy = get_protocol("greedy").with_overrides(max_new_tokens=args.max_new_tokens)
    strategies = {"greedy": Independent(), **{f"refine-{name}": SelfRefine(rounds=args.rounds, scorer=name) for name in args.scorers}}
    outputs = []
    for name, strategy in strategies.items():
        outputs.append(Path("results") / f"ch05-{name}")
        print(f"evaluating {strategy.label} -> {outputs[-1]}")
        evaluate(
            model, tokenizer, [task], outputs[-1], model_name=args.model, protocol=greedy, strategy=strategy,
            batch_size=args.batch_size, resume=args.resume,
        )  # fmt: skip
    print("\n" + comparison(outputs, args.plot))

OFFLINE = (
    "pass --data PATH (a local MATH-500 .json/.jsonl) and a local checkpoint directory as --model, "
    "or run offline: python chapters/ch06_grpo.py (the toy task)"
)

if __name__ == "__main__":
    if status := run_command("ch05_self_refinement.py", main, offline=OFFLINE):  # no SystemExit on success (runpy, %run)
        sys.exit(status)
