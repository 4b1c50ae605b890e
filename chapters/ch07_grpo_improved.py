"""Chapter 7: improving GRPO: Dr. GRPO, DAPO's clip-higher and dynamic sampling, KL, mu passes.

Each improvement is a field of `GRPOConfig`, so a variant is a preset plus flags. Print what
each preset changes against plain GRPO, then train one (the toy task without --model).

    python chapters/ch07_grpo_improved.py --variant dapo
    python chapters/ch07_grpo_improved.py --variant dr-grpo --beta 0.01 --mu 2
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from reasoning.cli import run_command
from reasoning.rl.config import PRESETS, GRPOConfig
from reasoning.rl.launch import load_setting, train_setting
from reasoning.training.data import load_task

OBJECTIVE = ("scale_rewards", "eps_low", "eps_high", "aggregation", "mask_truncated", "beta", "mu", "dynamic_sampling")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=["grpo", "dr-grpo", "dapo"], default="dapo")
    parser.add_argument("--model", help="alias, hub id or checkpoint directory (default: the toy task)")
    parser.add_argument("--dataset", help=".json/.jsonl problems, or 'math500'")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--beta", type=float, help="KL coefficient to the frozen reference")
    parser.add_argument("--mu", type=int, help="optimisation passes per batch of rollouts")
    parser.add_argument("--out", type=Path, default=Path("runs/ch07"))
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue the run in --out")
    start.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    args = parser.parse_args()

    for name in ("grpo", "dr-grpo", "dapo"):
        print(f"{name:8s} " + "  ".join(f"{field}={getattr(PRESETS[name], field)}" for field in OBJECTIVE))
    objective = {field: getattr(PRESETS[args.variant], field) for field in OBJECTIVE}
    overrides = {k: v for k, v in (("steps", args.steps), ("beta", args.beta), ("mu", args.mu)) if v is not None}
    base = GRPOConfig.from_name("grpo" if args.model else "toy-addition")
    config = dataclasses.replace(base, **{**objective, **overrides})
    task = load_task(dataset=args.dataset) if args.model and args.dataset else None
    setting = load_setting(config, model=args.model, task=task)
    train_setting(setting, config, args.out, resume=args.resume, overwrite=args.overwrite, on_step=lambda r: print(
        f"step {r['step']:4d}  reward {r['reward_mean']:.3f}  groups kept {r['groups_used']}  skipped "
        f"{r['groups_skipped']}  clip {r['clip_fraction']:.3f}  {r['seconds']:.2f} s"
    ))  # fmt: skip


OFFLINE = (
    "pass a local checkpoint directory as --model and a local --dataset file, or leave out --model to run the toy task offline"
)

if __name__ == "__main__":
    if status := run_command("ch07_grpo_improved.py", main, offline=OFFLINE):  # no SystemExit on success (runpy, %run)
        sys.exit(status)
