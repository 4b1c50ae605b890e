"""Benchmark the grader: answers per second on MATH-500 pairs, and the worst hostile input.

    python evals/bench_grading.py [--data shared/data/math500_test.json]

Three sets of 500 pairs: each reference answer against the box of its own solution (the
set the issue names; identical strings, so mostly settled by the in-process string check),
against a rewrite of itself through sympy's LaTeX printer (equal, through the full
comparison), and against the next problem's answer (mostly unequal, the common case in RL).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from grading_cases import HOSTILE, rewrite  # noqa: E402

from reasoning.grading import extract_answer, grade, grade_many  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/math500_test.json"


def answers_per_second(pairs: list[tuple[str, str]], processes: int) -> tuple[float, int]:
    """Throughput of grade_many, and how many pairs it called correct."""
    start = time.perf_counter()
    results = grade_many(pairs, processes=processes)
    return len(pairs) / (time.perf_counter() - start), sum(map(bool, results))


def worst_hostile() -> tuple[float, str]:
    """The slowest grade over every hostile input, as answer and as reference."""
    worst = (0.0, "")
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in HOSTILE:
            text = text.replace("{marker}", str(Path(tmp) / "ran"))
            for pred, gold, side in ((text, "5", "answer"), ("5", text, "reference")):
                start = time.perf_counter()
                grade(pred, gold)
                worst = max(worst, (time.perf_counter() - start, f"{name} ({side})"))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    problems = json.loads(args.data.read_text())
    answers = [p["answer"] for p in problems]
    sets = {
        "reference box": [(extract_answer(p["solution"]), p["answer"]) for p in problems],
        "rewritten": [(rewrite(a), a) for a in answers],
        "next answer": [(answers[(k + 1) % len(answers)], a) for k, a in enumerate(answers)],
    }
    cores = os.cpu_count() or 1
    grade_many(sets["rewritten"][:50], processes=cores)  # start the workers before timing
    print(f"{'pairs':<15} {'correct':>8} {'1 process/s':>12} {f'{cores} processes/s':>14}")
    for name, pairs in sets.items():
        single, correct = answers_per_second(pairs, 1)
        multi, _ = answers_per_second(pairs, cores)
        print(f"{name:<15} {correct:>4}/{len(pairs):<3} {single:>12.0f} {multi:>14.0f}")
    seconds, which = worst_hostile()
    print(f"worst hostile input: {seconds:.3f} s ({which}), over {2 * len(HOSTILE)} grades")


if __name__ == "__main__":
    main()
