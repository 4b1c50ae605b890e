"""Chapter 6: reinforcement learning with verifiable rewards (GRPO).

Show the pieces on one group of four answers (rewards from the grader, group-relative
advantages, the loss of one token), then train. Without a model this runs the offline toy
task: a tiny Qwen3 learns to add, and its mean reward climbs from about 0.15 to above 0.8
in a few CPU minutes. With --model and --dataset it trains that model on those problems.
The same job is `reasoning train grpo`.

    python chapters/ch06_grpo.py                                   # toy task, CPU, offline
    python chapters/ch06_grpo.py --model qwen3-0.6b-base --dataset train.jsonl --steps 50
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from reasoning.cli import run_command
from reasoning.data import Problem
from reasoning.evaluation.tasks import Task
from reasoning.rl.config import GRPOConfig
from reasoning.rl.launch import load_setting, train_setting
from reasoning.rl.losses import group_advantages, grpo_loss, token_weights
from reasoning.rl.rewards import default_rewards, score
from reasoning.training.data import load_task


def explain() -> None:
    """One group by hand: four completions, their rewards, advantages, and the on-policy loss."""
    problem = Problem(id="demo", question="What is 1/2 + 1/3?", answer="\\frac{5}{6}")
    completions = ["... so \\boxed{5/6}", "... \\boxed{2/5}", "the answer is 6/5", "... \\boxed{\\frac{5}{6}}"]
    rewards, _ = score(completions, [problem] * 4, default_rewards(Task("demo", (problem,))))
    advantages = group_advantages(torch.tensor(rewards), 4)
    print(f"rewards {rewards} -> advantages {[round(a, 3) for a in advantages.tolist()]}")
    logprobs = torch.full((4, 1), -1.0, requires_grad=True)
    weights = token_weights(torch.ones(4, 1), "sequence")
    grpo_loss(logprobs, logprobs.detach(), advantages, weights, eps_low=0.2, eps_high=0.2).loss.backward()
    steps = [round(-g, 3) for g in logprobs.grad.flatten().tolist()]
    print(f"a gradient step raises each completion's log-prob in proportion to {steps}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="alias, hub id or checkpoint directory (default: the toy task)")
    parser.add_argument("--dataset", help=".json/.jsonl problems, or 'math500'")
    parser.add_argument("--eval-data", type=Path, help="local MATH-500 file for the held-out evaluation")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--out", type=Path, default=Path("runs/ch06"))
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue the run in --out")
    start.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    args = parser.parse_args()

    explain()
    config = GRPOConfig.from_name("grpo" if args.model else "toy-addition", **({"steps": args.steps} if args.steps else {}))
    task = load_task(dataset=args.dataset) if args.model and args.dataset else None
    eval_task = load_task(bench="math500", data=args.eval_data) if args.model and args.eval_data else None
    setting = load_setting(config, model=args.model, task=task, eval_task=eval_task)
    _, rows = train_setting(setting, config, args.out, resume=args.resume, overwrite=args.overwrite, on_step=lambda r: print(
        f"step {r['step']:4d}  reward {r['reward_mean']:.3f}  length {r['response_length']:.1f}  {r['seconds']:.2f} s"
    ))  # fmt: skip
    if rows:
        print(f"\nmetrics in {args.out / 'metrics.csv'}; draw them with: reasoning plot {args.out / 'metrics.csv'}")


OFFLINE = (
    "pass a local checkpoint directory as --model and a local --dataset file, or leave out --model to run the toy task offline"
)

if __name__ == "__main__":
    if status := run_command("ch06_grpo.py", main, offline=OFFLINE):  # no SystemExit on success (runpy, %run)
        sys.exit(status)
