"""Does every GRPO preset learn? Each one's objective on the toy addition task, from the same start.

    python evals/bench_grpo_variants.py                                # every preset, the toy preset's 150 steps
    python evals/bench_grpo_variants.py --variants grpo,gspo --steps 60

Each preset's objective (`reasoning.rl.config.at_scale_of`: its own switches at the toy task's
sizes and learning rate) trains the same tiny model on the same sums with the same seed. The
table gives the share of correct answers (the correctness reward, comparable across presets
that add other rewards) over the first 5 and the last 10 steps, the first step whose 10-step
average reaches --target, and the seconds taken. It is a measurement, not a test: about a
minute a preset on one CPU thread, so run it when the machine is quiet.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from reasoning.rl.config import PRESETS, at_scale_of
from reasoning.rl.launch import load_setting, train_setting
from reasoning.training.metrics import moving_average

VARIANTS = [name for name in PRESETS if name != "toy-addition"]


def learn(name: str, steps: int, out: Path) -> tuple[list[float], float]:
    """The share of correct answers at each step of preset `name` on the toy task, and the seconds."""
    config = dataclasses.replace(at_scale_of(name, "toy-addition"), steps=steps, eval_every=0, checkpoint_every=0)
    began = time.perf_counter()
    _, rows = train_setting(load_setting(config, device="cpu"), config, out / name)
    return [row["accuracy"] for row in rows], time.perf_counter() - began


def first_reaching(values: list[float], target: float, window: int = 10) -> int | None:
    """The first step (from 1) whose trailing `window`-step average reaches target, or None."""
    return next((step for step, value in enumerate(moving_average(values, window), start=1) if value >= target), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated presets")
    parser.add_argument("--steps", type=int, default=PRESETS["toy-addition"].steps)
    parser.add_argument("--target", type=float, default=0.8, help="the share of correct answers a preset should reach")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    names = [name.strip() for name in args.variants.split(",")]
    if unknown := [name for name in names if name not in VARIANTS]:
        parser.error(f"unknown presets {unknown}; known: {', '.join(VARIANTS)}")
    torch.set_num_threads(args.threads)
    print(f"{'preset':14s} {'first 5':>8s} {'last 10':>8s} {'reaches ' + str(args.target):>13s} {'seconds':>8s}")
    with tempfile.TemporaryDirectory() as out:
        for name in names:
            correct, seconds = learn(name, args.steps, Path(out))
            head, tail = correct[:5], correct[-10:]
            reached = first_reaching(correct, args.target)
            print(
                f"{name:14s} {sum(head) / len(head):8.3f} {sum(tail) / len(tail):8.3f} "
                f"{'step ' + str(reached) if reached else 'not reached':>13s} {seconds:8.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
