"""What an evaluation measured, from its records alone: pass@1 with its standard error,
unbiased pass@k, majority vote maj@k, the accuracy of a strategy's answers, tokens, truncation
and time, overall and by subject and level.

Every figure is computed and reported by name from the per-problem records
(`evaluation.problem_record`), so `eval score` reproduces a run's summary without the model,
and a new metric cannot shift another's column.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from reasoning.evaluation.metrics import majority_correct, mean_and_stderr, pass_at_k, report_ks


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

    pass@1 is the mean over problems of each problem's fraction of correct samples, with the
    standard error of that mean over problems; pass@k is Chen et al.'s unbiased estimator and
    maj@k the vote of the first k samples, both averaged over problems, for k = 2, 4, ... n.
    accuracy is the mean `problem_score` (the strategy's answer where it chose one, else
    pass@1), with its standard error; answers counts the problems a strategy answered.
    """
    if not records:
        raise ValueError("nothing to summarize: no records")
    n = min(len(record["samples"]) for record in records)
    summary = _accuracy(records, n)
    samples = [sample for record in records for sample in record["samples"]]
    summary.update(
        mean_tokens=sum(sample["tokens"] for sample in samples) / len(samples),
        tokens_per_problem=sum(map(problem_tokens, records)) / len(records),
        truncated=sum(sample["finish_reason"] == "length" for sample in samples) / len(samples),
        no_answer=sum(sample["extracted"] is None for sample in samples) / len(samples),
        answers=sum("answer" in record for record in records),
        seconds=sum(record.get("seconds", 0.0) for record in records),
    )
    for field in ("subject", "level"):
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in records:
            if record.get(field) is not None:
                groups[str(record[field])].append(record)
        if groups:
            summary[f"by_{field}"] = {name: _accuracy(groups[name], n) for name in sorted(groups, key=_natural)}
    return summary


def _accuracy(records: Sequence[dict[str, Any]], n: int) -> dict[str, Any]:
    """problems, samples per problem, accuracy, pass@1 (each with its standard error), pass@k and maj@k."""
    accuracy, accuracy_stderr = mean_and_stderr([problem_score(record) for record in records])
    mean, stderr = mean_and_stderr([problem_pass_rate(record) for record in records])
    figures: dict[str, Any] = {
        "problems": len(records), "samples": n, "accuracy": accuracy, "accuracy_stderr": accuracy_stderr,
        "pass@1": mean, "pass@1_stderr": stderr,
    }  # fmt: skip
    for k in report_ks(n)[1:]:
        figures[f"pass@{k}"] = _mean(
            pass_at_k(len(r["samples"]), sum(bool(s["correct"]) for s in r["samples"]), k) for r in records
        )
    for k in report_ks(n)[1:]:
        figures[f"maj@{k}"] = _mean(
            float(majority_correct(r["groups"], [bool(s["correct"]) for s in r["samples"]], k)) for r in records
        )
    return figures


def _mean(values: Any) -> float:
    values = list(values)
    return sum(values) / len(values)


def _natural(name: str) -> tuple:
    """Levels sort as numbers (2 before 10), subjects alphabetically."""
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def format_summaries(summaries: dict[str, dict[str, Any]], *, breakdown: bool = True) -> str:
    """One row per task (the strategy's accuracy ± stderr where a strategy answered, pass@1 ±
    stderr, pass@k, maj@k, tokens, truncation, time), then each task's subjects and levels
    when `breakdown`."""
    ks = sorted({int(key[5:]) for s in summaries.values() for key in s if key.startswith("pass@") and key[5:].isdigit()})
    extra = [f"pass@{k}" for k in ks if k > 1] + [f"maj@{k}" for k in ks if k > 1]
    answered = any(s.get("answers") for s in summaries.values())
    header = f"{'benchmark':<14} {'problems':>8} {'n':>3}" + (f" {'accuracy':>14}" if answered else "") + f" {'pass@1':>14}"
    lines = [header + "".join(f" {name:>8}" for name in extra) + f" {'tokens':>8} {'truncated':>9} {'time':>9}"]
    for name, s in summaries.items():
        row = f"{name:<14} {s['problems']:>8} {s['samples']:>3}" + (f" {_pm(s, 'accuracy'):>14}" if answered else "")
        row += f" {_pm(s):>14}" + "".join(f" {_percent(s.get(key)):>8}" for key in extra)
        lines.append(row + f" {s['mean_tokens']:>8.0f} {s['truncated']:>9.1%} {format_duration(s['seconds']):>9}")
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
    if answered:
        lines.append("accuracy: the share of problems whose answer, chosen by the strategy, is correct")
    return "\n".join(lines)


def _pm(figures: dict[str, Any], name: str = "pass@1") -> str:
    return f"{figures[name]:.1%} ± {100 * figures[name + '_stderr']:.1f}"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def format_duration(seconds: float) -> str:
    """Seconds as a short duration: 12.3 s, 4.5 min, 1.2 h."""
    if seconds < 100:
        return f"{seconds:.1f} s"
    if seconds < 6000:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
