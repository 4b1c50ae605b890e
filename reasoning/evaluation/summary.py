"""What an evaluation measured, from its records alone: the accuracy of a strategy's answers,
pass@1, unbiased pass@k, majority vote maj@k and G-Pass@k, each with its standard error over
problems; tokens (mean, median, p90, of correct and of wrong samples), truncation and time;
overall and by subject and level.

Every figure is computed and reported by name from the per-problem records
(`evaluation.problem_record`), so `eval score` reproduces a run's summary without the model,
and a new metric cannot shift another's column.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from reasoning.evaluation.after_thinking import thinking_state
from reasoning.evaluation.metrics import (
    G_PASS_THRESHOLDS,
    MAJORITY_SEED,
    MAJORITY_SUBSETS,
    g_pass_at_k,
    majority_at_k,
    mean_and_stderr,
    mg_pass_at_k,
    pass_at_k,
    report_ks,
)


def problem_pass_rate(record: dict[str, Any]) -> float:
    """The fraction of a problem's samples that are correct (its pass@1)."""
    samples = record["samples"]
    return sum(bool(sample["correct"]) for sample in samples) / len(samples)


def problem_score(record: dict[str, Any]) -> float:
    """How right a problem's answer is: 1 or 0 for a strategy's chosen answer, else its pass@1
    (each sample answers for itself)."""
    answer = record.get("answer")
    return float(bool(answer["correct"])) if answer is not None else problem_pass_rate(record)


def problem_tokens(record: dict[str, Any]) -> int:
    """Every token generated for a problem (a record without the total: its samples')."""
    return record["tokens"] if "tokens" in record else sum(sample["tokens"] for sample in record["samples"])


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The summary of one task's records (one per problem, each holding its samples).

    pass@1 is the mean over problems of each problem's fraction of correct samples; pass@k is
    Chen et al.'s unbiased estimator, maj@k the vote of k samples averaged over k-subsets
    (`majority_at_k`), g-pass@k_tau and mg-pass@k Liu et al.'s (`g_pass_at_k`), for k = 2, 4, ... n;
    accuracy is the mean `problem_score` (the strategy's answer where it chose one, else pass@1).
    Each is a mean over problems with its standard error (`<name>_stderr`). answers counts the
    problems a strategy answered; tokens_median and tokens_p90 (numpy's linear interpolation)
    are over samples, tokens_correct and tokens_wrong the mean of correct and of wrong samples
    (None where there are none).
    """
    if not records:
        raise ValueError("nothing to summarize: no records")
    n = min(len(record["samples"]) for record in records)
    figures = [problem_figures(record, n) for record in records]
    summary = _accuracy(figures, n)
    samples = [sample for record in records for sample in record["samples"]]
    summary.update(
        mean_tokens=sum(sample["tokens"] for sample in samples) / len(samples),
        **_lengths(samples),
        tokens_per_problem=sum(map(problem_tokens, records)) / len(records),
        truncated=sum(sample["finish_reason"] == "length" for sample in samples) / len(samples),
        unfinished=sum(thinking_state(r.get("prompt", ""), s["text"]) == "unfinished" for r in records for s in r["samples"]) / len(samples),
        no_answer=sum(sample["extracted"] is None for sample in samples) / len(samples),
        answers=sum("answer" in record for record in records),
        failed_requests=sum(sample["finish_reason"] == "error" for sample in samples),  # an endpoint's, after retries
        seconds=sum(record.get("seconds", 0.0) for record in records),
    )
    for field in ("subject", "level"):
        groups: dict[str, list[dict[str, float]]] = defaultdict(list)
        for record, row in zip(records, figures, strict=True):
            if record.get(field) is not None:
                groups[str(record[field])].append(row)
        if groups:
            summary[f"by_{field}"] = {name: _accuracy(groups[name], n) for name in sorted(groups, key=_natural)}
    return summary


def _accuracy(rows: Sequence[dict[str, float]], n: int) -> dict[str, Any]:
    """problems, samples per problem, and each figure of the problems' `problem_figures` rows as
    its mean over problems with its standard error (`<name>_stderr`)."""
    figures: dict[str, Any] = {"problems": len(rows), "samples": n}
    for name in rows[0]:
        figures[name], figures[f"{name}_stderr"] = mean_and_stderr([row[name] for row in rows])
    return figures


def problem_figures(record: dict[str, Any], n: int) -> dict[str, float]:
    """One problem's figures by name: accuracy, pass@1, and for k = 2, 4, ... n (the fewest
    samples any problem has) pass@k, maj@k, g-pass@k_tau for each threshold and mg-pass@k."""
    samples, correct = len(record["samples"]), [bool(sample["correct"]) for sample in record["samples"]]
    figures = {"accuracy": problem_score(record), "pass@1": problem_pass_rate(record)}
    ks = report_ks(n)[1:]
    figures.update({f"pass@{k}": pass_at_k(samples, sum(correct), k) for k in ks})
    figures.update({f"maj@{k}": majority_at_k(record["groups"], correct, k) for k in ks})
    for k in ks:
        figures.update({f"g-pass@{k}_{tau}": g_pass_at_k(samples, sum(correct), k, tau) for tau in G_PASS_THRESHOLDS})
        figures[f"mg-pass@{k}"] = mg_pass_at_k(samples, sum(correct), k)
    return figures


def _lengths(samples: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Sample lengths in tokens: median and 90th percentile, and the mean of correct and of wrong samples."""
    tokens = np.asarray([sample["tokens"] for sample in samples], dtype=np.float64)
    right = np.asarray([bool(sample["correct"]) for sample in samples])
    median, p90 = np.percentile(tokens, [50, 90])
    return {
        "tokens_median": float(median), "tokens_p90": float(p90),
        "tokens_correct": float(tokens[right].mean()) if right.any() else None,
        "tokens_wrong": float(tokens[~right].mean()) if not right.all() else None,
    }  # fmt: skip


def _natural(name: str) -> tuple:
    """Levels sort as numbers (2 before 10), subjects alphabetically."""
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def format_summaries(summaries: dict[str, dict[str, Any]], *, breakdown: bool = True) -> str:
    """One row per task (the strategy's accuracy ± stderr where a strategy answered, pass@1 ±
    stderr, tokens, truncation, time); where there are several samples, a row per task and k
    (pass@k and maj@k ± stderr, G-Pass@k); each task's sample lengths; then each task's subjects
    and levels when `breakdown`."""
    answered = any(s.get("answers") for s in summaries.values())
    header = f"{'benchmark':<14} {'problems':>8} {'n':>3}" + (f" {'accuracy':>14}" if answered else "") + f" {'pass@1':>14}"
    lines = [header + f" {'tokens':>8} {'truncated':>9} {'unfinished':>10} {'time':>9}"]
    for name, s in summaries.items():
        row = f"{name:<14} {s['problems']:>8} {s['samples']:>3}" + (f" {_pm(s, 'accuracy'):>14}" if answered else "")
        row += f" {_pm(s):>14}"
        lines.append(row + f" {s['mean_tokens']:>8.0f} {s['truncated']:>9.1%} {s.get('unfinished', 0.0):>10.1%} {format_duration(s['seconds']):>9}")
    lines += _by_k(summaries) + _lengths_table(summaries)
    failed = {name: s["failed_requests"] for name, s in summaries.items() if s.get("failed_requests")}
    if failed:  # counted wrong; `--resume` asks those problems again
        counts = ", ".join(f"{name} {count}" for name, count in failed.items())
        lines.append(f"\nfailed requests: {counts} (counted wrong; --resume retries them)")
    if breakdown:
        for name, s in summaries.items():
            for field in ("subject", "level"):
                groups = s.get(f"by_{field}")
                if groups:  # problems, then the headline figure: the strategy's accuracy, else pass@1
                    figure = "accuracy" if s.get("answers") else "pass@1"
                    lines.append(f"\n{name} by {field} ({figure})")
                    width = max(len(group) for group in groups)
                    lines += [f"  {group:<{width}} {g['problems']:>6} {_pm(g, figure):>14}" for group, g in groups.items()]
    lines.append("\npass@1: mean over problems of the share of correct samples, ± its standard error over problems")
    if any(s["samples"] > 1 for s in summaries.values()):
        lines += [
            "pass@k: the chance that k of the n samples hold a correct one (Chen et al. 2021); maj@k: that the majority",
            f"  answer of k samples is correct, averaged over every k-subset ({MAJORITY_SUBSETS:,} drawn, seed {MAJORITY_SEED}, if more)",
            "g-pass@k_t: the chance that at least ceil(t k) of k samples are correct; mg-pass@k: its mean over t in (0.5, 1]",
            "  (Liu et al. 2024, as lighteval computes them)",
        ]
    lines.append("tokens: mean per sample; median, p90: over samples; correct, wrong: mean tokens of correct and of wrong samples")
    lines.append("truncated: samples cut by the token budget; unfinished: samples whose thinking never closed (no </think>)")
    if answered:
        lines.append("accuracy: the share of problems whose answer, chosen by the strategy, is correct")
    return "\n".join(lines)


def _by_k(summaries: dict[str, dict[str, Any]]) -> list[str]:
    """A row per task and k = 2, 4, ... n: pass@k and maj@k ± stderr, g-pass@k at each threshold
    above 0 (at 0 it is pass@k), mg-pass@k."""
    thresholds = [tau for tau in G_PASS_THRESHOLDS if tau > 0]
    names = [f"g-pass@k_{tau}" for tau in thresholds]
    header = f"\n{'benchmark':<14} {'k':>3} {'pass@k':>14} {'maj@k':>14}" + "".join(f" {name:>13}" for name in names)
    lines = [header + f" {'mg-pass@k':>10}"]
    for name, s in summaries.items():
        for k in report_ks(s["samples"])[1:]:
            row = f"{name:<14} {k:>3} {_pm(s, f'pass@{k}'):>14} {_pm(s, f'maj@{k}'):>14}"
            row += "".join(f" {s[f'g-pass@{k}_{tau}']:>13.1%}" for tau in thresholds)
            lines.append(row + f" {s[f'mg-pass@{k}']:>10.1%}")
    return lines if len(lines) > 1 else []


def _lengths_table(summaries: dict[str, dict[str, Any]]) -> list[str]:
    """A row per task: the mean, median and p90 of sample tokens, and the mean of correct and of wrong samples."""
    lines = [f"\n{'benchmark':<14} {'tokens':>8} {'median':>8} {'p90':>8} {'correct':>8} {'wrong':>8}"]
    for name, s in summaries.items():
        figures = [s.get(key) for key in ("tokens_median", "tokens_p90", "tokens_correct", "tokens_wrong")]
        lines.append(f"{name:<14} {s['mean_tokens']:>8.0f}" + "".join(f" {_tokens(value):>8}" for value in figures))
    return lines


def _tokens(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _pm(figures: dict[str, Any], name: str = "pass@1") -> str:
    return f"{figures[name]:.1%} ± {100 * figures[name + '_stderr']:.1f}"


def format_duration(seconds: float) -> str:
    """Seconds as a short duration: 12.3 s, 4.5 min, 1.2 h."""
    if seconds < 100:
        return f"{seconds:.1f} s"
    if seconds < 6000:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
