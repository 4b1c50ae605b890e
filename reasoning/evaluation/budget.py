"""Accuracy against thinking budget, every budget from one decode of each sample's thinking.

`evaluate_budgets` runs `generation.budget_sweep` over a task's problems in chunks and records
each budget as a task of its own, `<task>@<budget>.jsonl` in the run directory, through the
evaluation's record loop and in its record format (so `eval score`, `compare` and the summary
read it as they read any run). Each sample's record carries its thinking, forced and answer tokens;
the largest budget's records also carry the tokens the sweep decoded for the sample, so the
cost of the sweep can be set against separate runs (whose cost is the sum of every budget's
tokens). Runs resume: a chunk is swept only for problems some budget still lacks.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from torch import nn
from tqdm.auto import tqdm

from reasoning.evaluation.attempts import Attempt, Clock, Solve
from reasoning.evaluation.identity import model_settings
from reasoning.evaluation.protocols import Protocol
from reasoning.evaluation.records import RecordsError, holds_records, read_run
from reasoning.evaluation.run import evaluate_task, generation_config
from reasoning.evaluation.rundir import read_task, records_path, write_summary
from reasoning.evaluation.solvers import completion_of
from reasoning.evaluation.summary import summarize
from reasoning.evaluation.tasks import Task
from reasoning.generation import GenerationConfig, Prompt, budget_sweep
from reasoning.prompts import PromptKind
from reasoning.tokenizer import Qwen3Tokenizer


def budget_name(task: str, budget: int) -> str:
    """The name a task's records at one thinking budget go under."""
    return f"{task}@{budget}"


def evaluate_budgets(
    model: nn.Module,
    tokenizer: Qwen3Tokenizer,
    tasks: Sequence[Task],
    protocol: Protocol,
    budgets: Sequence[int],
    out_dir: str | Path,
    *,
    model_name: str,
    kind: PromptKind,
    answer_budget: int | None = None,
    seed: int = 0,
    batch_size: int = 16,
    chunk: int | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Evaluate each task at every thinking budget; returns the summaries, by `budget_name`.

    protocol.max_new_tokens bounds each completion as a whole; answer_budget, if given, bounds
    the tokens after </think>.
    """
    budgets = sorted(set(budgets))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    config = generation_config(protocol, seed=seed, batch_size=batch_size, thinking={"answer_budget": answer_budget})
    prompt = protocol.prompt
    base_settings = {**model_settings(model, model_name), "kind": kind, "enable_thinking": True, "cot": False, "strategy": "independent",
                     **protocol.settings(), "seed": seed, "budgets": budgets, "answer_budget": answer_budget,
                     "grade_after_thinking": True}  # fmt: skip
    for task in tasks:
        prompts = [task.prompt(p, kind=kind, chat=tokenizer.apply_chat_template, prompt=prompt) for p in task.problems]
        files = {budget: records_path(out_dir, budget_name(task.name, budget)) for budget in budgets}
        started = {budget: holds_records(path) for budget, path in files.items()}
        if any(started.values()) and not resume:
            raise RecordsError(f"{out_dir} already holds {task.name} results: pass --resume to continue that run, or choose another --out")
        done = [{r["id"] for r in read_run(path)[1]} if started[b] else set() for b, path in files.items()]
        todo = [i for i, problem in enumerate(task.problems) if not all(problem.id in ids for ids in done)]
        if progress and any(started.values()):
            tqdm.write(f"resuming {task.name}: {len(task.problems) - len(todo)} of {len(task.problems)} problems done", file=sys.stderr)
        bar = tqdm(total=len(todo), disable=not progress, desc=f"{task.name} @ {budgets}", unit="problem")
        began, decoded = time.perf_counter(), 0
        size = chunk or max(1, 4 * batch_size // protocol.n)  # enough samples to keep the batch full, few enough to show progress
        for start in range(0, len(todo), size):
            indices = todo[start : start + size]
            attempts = _sweep(model, tokenizer, [(i, prompts[i]) for i in indices], budgets, config)
            for budget in budgets:
                at_budget = dataclasses.replace(task, name=budget_name(task.name, budget))
                evaluate_task(
                    at_budget, prompts, _replay(attempts[budget]), out_dir,
                    settings={**base_settings, **task.prompt_settings(prompt, None), "thinking_budget": budget},
                    resume=started[budget], progress=False, after_thinking=True,
                )  # fmt: skip
                started[budget] = True
            decoded += sum(c.extra["sweep_decoded"] for attempt in attempts[budgets[-1]].values() for c in attempt.samples)
            bar.set_postfix(tokens=decoded, tok_s=f"{decoded / (time.perf_counter() - began):.1f}", refresh=False)
            bar.update(len(indices))
        bar.close()
    asked = {budget_name(task.name, budget): [problem.id for problem in task.problems] for task in tasks for budget in budgets}
    return write_summary(out_dir, problems=asked)


def _sweep(
    model: nn.Module, tokenizer: Qwen3Tokenizer, items: list[tuple[int, str]], budgets: list[int], config: GenerationConfig
) -> dict[int, dict[int, Attempt]]:
    """{budget: {problem index: its attempt}} from one sweep over `items`."""
    clock = Clock()
    sweeps = budget_sweep(model, tokenizer, [Prompt(text, stream=index) for index, text in items], budgets, config)
    seconds = clock.lap() / max(1, len(items))
    samples: dict[int, dict[int, list]] = {budget: {} for budget in budgets}
    for sweep in sweeps:
        index = items[sweep.prompt_index][0]
        for budget, result in sweep.by_budget.items():
            extra = {"sweep_decoded": sweep.decoded_tokens} if budget == budgets[-1] else {}
            samples[budget].setdefault(index, []).append(completion_of(result, **extra))
    return {budget: {i: Attempt(tuple(s), seconds) for i, s in by_index.items()} for budget, by_index in samples.items()}


def _replay(attempts: dict[int, Attempt]) -> Solve:
    """A `Solve` that yields the swept attempts of the problems asked for that it holds."""

    def solve(items: Sequence[tuple[int, str]]) -> Iterator[tuple[int, Attempt]]:
        for position, (index, _) in enumerate(items):
            if index in attempts:
                yield position, attempts[index]

    return solve


def budget_curve(out_dir: str | Path, bench: str) -> dict[str, Any]:
    """A task's sweep read back: one row per budget, and what the sweep cost.

    Row: budget, problems, samples, pass@1 and its standard error, maj@n (n > 1), and the mean
    thinking, forced, answer and total tokens per sample. Cost: the tokens the sweep decoded
    and the tokens separate runs at every budget decode (the sum of every budget's tokens).
    """
    paths = Path(out_dir).glob(f"{bench}@*.jsonl")
    budgets = sorted({int(path.name.split("@")[1].split(".")[0]) for path in paths})
    rows, separate, decoded = [], 0, 0
    for budget in budgets:
        _, records = read_task(out_dir, budget_name(bench, budget))
        samples = [sample for record in records for sample in record["samples"]]
        summary = summarize(records)
        n = summary["samples"]
        rows.append({
            "budget": budget, "problems": summary["problems"], "samples": n, "pass@1": summary["pass@1"],
            "pass@1_stderr": summary["pass@1_stderr"], "majority": summary.get(f"maj@{n}"),
            **{f"{part}_tokens": _mean(s[f"{part}_tokens"] or 0 for s in samples) for part in ("thinking", "forced", "answer")},
            "tokens": summary["mean_tokens"],
        })  # fmt: skip
        separate += sum(sample["tokens"] for sample in samples)
        decoded = sum(sample.get("sweep_decoded", 0) for sample in samples)  # the largest budget's, in the end
    return {"benchmark": bench, "rows": rows, "sweep_decoded": decoded, "separate_decoded": separate}


def format_budget_curve(curve: dict[str, Any]) -> str:
    """The curve as a table, and the sweep's cost against separate runs."""
    lines = [f"{curve['benchmark']}: accuracy against thinking budget",
             f"{'budget':>8} {'problems':>8} {'pass@1':>14} {'maj@n':>7} {'thinking':>9} {'forced':>7} {'answer':>7} {'tokens':>8}"]  # fmt: skip
    for row in curve["rows"]:
        majority = "" if row["majority"] is None else f"{row['majority']:.1%}"
        lines.append(
            f"{row['budget']:>8} {row['problems']:>8} {row['pass@1']:>7.1%} ± {row['pass@1_stderr']:>4.1%} {majority:>7} "
            f"{row['thinking_tokens']:>9.1f} {row['forced_tokens']:>7.1f} {row['answer_tokens']:>7.1f} {row['tokens']:>8.1f}"
        )
    if curve["sweep_decoded"]:
        ratio = curve["separate_decoded"] / curve["sweep_decoded"]
        lines.append(
            f"decoded by the sweep: {curve['sweep_decoded']} tokens; separate runs: {curve['separate_decoded']} ({ratio:.2f}x)"
        )
    return "\n".join(lines)


def report_budget_curves(out_dir: str | Path, benches: Sequence[str], plot: str | Path | None = None) -> str:
    """The tables of a sweep's tasks (and the curve drawn to `plot`, if given)."""
    curves = [budget_curve(out_dir, bench) for bench in benches]
    if plot:
        plot_budget_curves(curves, str(plot))
    return "\n\n".join(format_budget_curve(curve) for curve in curves) + (f"\nplot: {plot}" if plot else "")


def plot_budget_curves(curves: Sequence[dict[str, Any]], out: str) -> None:
    """pass@1 against thinking budget (log scale), one line per benchmark, 95% error bars."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("plotting needs matplotlib: pip install 'reasoning[plot]'") from error
    figure, axes = plt.subplots(figsize=(6.5, 4.5))
    for curve in curves:
        budgets = [max(row["budget"], 1) for row in curve["rows"]]
        means = [100 * row["pass@1"] for row in curve["rows"]]
        errors = [196 * row["pass@1_stderr"] for row in curve["rows"]]
        axes.errorbar(budgets, means, yerr=errors, capsize=3, marker="o", label=curve["benchmark"])
    axes.set_xscale("log", base=2)
    axes.set_xlabel("thinking budget (tokens)")
    axes.set_ylabel("pass@1 (%), 95% error bars")
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)


def _mean(values: Any) -> float:
    values = list(values)
    return sum(values) / len(values)
