"""Chapter 7: improving GRPO: Dr. GRPO, DAPO, KL and mu passes, and the published variants side by side.

Each improvement is a field of `GRPOConfig`, so a variant is a preset plus flags. Print what
each preset changes against plain GRPO, then train one (the toy task without --model), or
train several on the toy task from the same start and draw their rewards against the step.

    python chapters/ch07_grpo_improved.py --variant dapo
    python chapters/ch07_grpo_improved.py --variant dr-grpo --beta 0.01 --mu 2
    python chapters/ch07_grpo_improved.py --compare grpo,dapo,gdpo,olmo3,deepseek-v3.2   # OUT/rewards.png
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from reasoning.cli import run_command
from reasoning.rl.config import PRESETS, SCALE, GRPOConfig, at_scale_of
from reasoning.rl.launch import load_setting, train_setting
from reasoning.training.data import load_task
from reasoning.training.metrics import moving_average, read_metrics

VARIANTS = [name for name in PRESETS if name != "toy-addition"]
COMPARE_STEPS = 40  # enough for the curves to part on the toy task, a couple of minutes on a CPU


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=VARIANTS, default="dapo")
    parser.add_argument("--compare", type=variant_list, help=f"train these presets on the toy task, comma-separated: {','.join(VARIANTS)}")
    parser.add_argument("--model", help="alias, hub id or checkpoint directory (default: the toy task)")
    parser.add_argument("--dataset", help=".json/.jsonl problems, or 'math500'")
    parser.add_argument("--steps", type=int, help=f"training steps (default: the toy preset's; {COMPARE_STEPS} with --compare)")
    parser.add_argument("--beta", type=float, help="KL coefficient to the frozen reference")
    parser.add_argument("--mu", type=int, help="optimisation passes per batch of rollouts")
    parser.add_argument("--out", type=Path, default=Path("runs/ch07"))
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue the run in --out")
    start.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    args = parser.parse_args()
    overrides = {k: v for k, v in (("steps", args.steps), ("beta", args.beta), ("mu", args.mu)) if v is not None}
    if args.compare:
        if args.model:
            raise ValueError("--compare trains on the toy task: leave out --model")
        compare(args.compare, {"steps": COMPARE_STEPS, **overrides}, args.out, resume=args.resume, overwrite=args.overwrite)
        return

    for name in dict.fromkeys(["grpo", "dr-grpo", "dapo", args.variant]):
        print(describe(name))
    config = dataclasses.replace(at_scale_of(args.variant, "grpo" if args.model else "toy-addition"), **overrides)
    task = load_task(dataset=args.dataset) if args.model and args.dataset else None
    setting = load_setting(config, model=args.model, task=task)
    train_setting(setting, config, args.out, resume=args.resume, overwrite=args.overwrite, on_step=lambda r: print(
        f"step {r['step']:4d}  reward {r['reward_mean']:.3f}  groups kept {r['groups_used']}  skipped "
        f"{r['groups_skipped']}  clip {r['clip_fraction']:.3f}  {r['seconds']:.2f} s"
    ))  # fmt: skip


def describe(name: str) -> str:
    """The preset's objective: each field it sets away from plain GRPO's (sizes aside)."""
    base, preset = PRESETS["grpo"], PRESETS[name]
    changed = [f.name for f in dataclasses.fields(GRPOConfig) if f.name not in SCALE and getattr(preset, f.name) != getattr(base, f.name)]
    return f"{name:14s} " + ("  ".join(f"{field}={getattr(preset, field)}" for field in changed) or "(plain GRPO)")


def variant_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown variants {unknown or text!r}; known: {', '.join(VARIANTS)}")
    return names


def compare(names: list[str], overrides: dict, out: Path, *, resume: bool, overwrite: bool) -> None:
    """Train each preset on the toy task from the same initial model and seed, print a table of
    their correctness rewards (the share of right sums) and draw it against step for each in out/rewards.png."""
    try:  # before any training
        import matplotlib
    except ImportError:
        raise ValueError("--compare draws its curves with matplotlib: pip install 'reasoning[plot]'") from None

    for name in names:
        print(describe(name))
    curves, table = {}, []
    for name in names:
        config = dataclasses.replace(at_scale_of(name, "toy-addition"), eval_every=0, **overrides)
        began = time.perf_counter()
        train_setting(load_setting(config), config, out / name, resume=resume, overwrite=overwrite, on_step=lambda r, name=name: print(
            f"{name:14s} step {r['step']:4d}  reward {r['reward_mean']:.3f}  correct {r['accuracy']:.3f}", flush=True
        ))  # fmt: skip
        rows = read_metrics(out / name / "metrics.csv")  # every step, a resumed run's earlier ones included
        curves[name] = [row["accuracy"] for row in rows]  # the correctness reward: the presets add different others
        table.append((name, mean(curves[name][:5]), mean(curves[name][-5:]), time.perf_counter() - began))
    print(f"\n{'variant':14s} {'correct, first 5 steps':>23s} {'last 5':>7s} {'seconds':>8s}")
    for name, first, last, seconds in table:
        print(f"{name:14s} {first:23.3f} {last:7.3f} {seconds:8.1f}")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for name, rewards in curves.items():
        axis.plot(range(1, len(rewards) + 1), moving_average(rewards, 5), label=name)
    axis.set(xlabel="step", ylabel="correct answers (5-step average)", title="GRPO variants on the toy addition task")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "rewards.png", dpi=110)
    plt.close(figure)
    print(f"curves: {out / 'rewards.png'}")


def mean(values: list[float]) -> float:
    return sum(values) / max(len(values), 1)


OFFLINE = (
    "pass a local checkpoint directory as --model and a local --dataset file, or leave out --model to run the toy task offline"
)

if __name__ == "__main__":
    if status := run_command("ch07_grpo_improved.py", main, offline=OFFLINE):  # no SystemExit on success (runpy, %run)
        sys.exit(status)
