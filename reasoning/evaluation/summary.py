"""What a benchmark run measured, from its records alone: pass@1 with its standard error,
unbiased pass@k, majority vote maj@k, tokens, truncation and time, overall and by subject
and level; and two runs compared problem by problem.

Every figure is computed and reported by name from the per-problem records, so `eval score`
reproduces a run's summary without the model, and a new metric cannot shift another's column.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from reasoning.evaluation.metrics import (
    PairedDifference,
    majority_correct,
    mean_and_stderr,
    paired_difference,
    pass_at_k,
    report_ks,
)
from reasoning.evaluation.report import format_duration


def problem_pass_rate(record: dict[str, Any]) -> float:
    """The fraction of a problem's samples that are correct (its pass@1)."""
    samples = record["samples"]
    return sum(bool(sample["correct"]) for sample in samples) / len(samples)


def summarize_benchmark(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The summary of one benchmark's records (one per problem, each holding its samples).

    pass@1 is the mean over problems of each problem's fraction of correct samples, with the
    standard error of that mean over problems; pass@k is Chen et al.'s unbiased estimator and
    maj@k the vote of the first k samples, both averaged over problems, for k = 2, 4, ... n.
    """
    if not records:
        raise ValueError("nothing to summarize: no records")
    n = min(len(record["samples"]) for record in records)
    summary = _accuracy(records, n)
    samples = [sample for record in records for sample in record["samples"]]
    summary.update(
        mean_tokens=sum(sample["tokens"] for sample in samples) / len(samples),
        truncated=sum(sample["finish_reason"] == "length" for sample in samples) / len(samples),
        no_answer=sum(sample["extracted"] is None for sample in samples) / len(samples),
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
    """problems, samples per problem, pass@1 and its standard error, pass@k and maj@k."""
    mean, stderr = mean_and_stderr([problem_pass_rate(record) for record in records])
    figures: dict[str, Any] = {"problems": len(records), "samples": n, "pass@1": mean, "pass@1_stderr": stderr}
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
    """One row per benchmark (pass@1 ± stderr, pass@k, maj@k, tokens, truncation, time), then
    each benchmark's subjects and levels when `breakdown`."""
    ks = sorted({int(key[5:]) for s in summaries.values() for key in s if key.startswith("pass@") and key[5:].isdigit()})
    extra = [f"pass@{k}" for k in ks if k > 1] + [f"maj@{k}" for k in ks if k > 1]
    header = f"{'benchmark':<14} {'problems':>8} {'n':>3} {'pass@1':>14}" + "".join(f" {name:>8}" for name in extra)
    lines = [header + f" {'tokens':>8} {'truncated':>9} {'time':>9}"]
    for name, s in summaries.items():
        row = f"{name:<14} {s['problems']:>8} {s['samples']:>3} {_pm(s):>14}"
        row += "".join(f" {_percent(s.get(key)):>8}" for key in extra)
        lines.append(row + f" {s['mean_tokens']:>8.0f} {s['truncated']:>9.1%} {format_duration(s['seconds']):>9}")
    if breakdown:
        for name, s in summaries.items():
            for field in ("subject", "level"):
                groups = s.get(f"by_{field}")
                if groups:
                    lines.append(f"\n{name} by {field}")
                    width = max(len(group) for group in groups)
                    lines += [f"  {group:<{width}} {g['problems']:>6} {_pm(g):>14}" for group, g in groups.items()]
    lines.append("\npass@1: mean over problems of the share of correct samples, ± its standard error over problems")
    return "\n".join(lines)


def _pm(figures: dict[str, Any]) -> str:
    return f"{figures['pass@1']:.1%} ± {100 * figures['pass@1_stderr']:.1f}"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def compare_records(
    first: Sequence[dict[str, Any]], second: Sequence[dict[str, Any]], *, seed: int = 0
) -> PairedDifference:
    """pass@1 of `first` minus `second`, paired over the problems both runs hold."""
    theirs = {record["id"]: record for record in second}
    common = [record for record in first if record["id"] in theirs]
    if not common:
        raise ValueError("the two runs share no problem: nothing to compare")
    return paired_difference(
        [problem_pass_rate(record) for record in common], [problem_pass_rate(theirs[record["id"]]) for record in common], seed=seed
    )


def format_comparison(names: tuple[str, str], rows: dict[str, tuple[float, float, PairedDifference]]) -> str:
    """Per benchmark: each run's pass@1, the paired difference, its 95% intervals, and whether
    the difference is real (the bootstrap interval excludes zero)."""
    first, second = names
    lines = [
        f"A = {first}\nB = {second}\n",
        f"{'benchmark':<14} {'problems':>8} {'A pass@1':>9} {'B pass@1':>9} {'A - B':>8} {'± stderr':>9} "
        f"{'95% CI (bootstrap)':>20} {'real?':>6}",
    ]
    for bench, (a, b, diff) in rows.items():
        interval = f"[{100 * diff.boot_low:+.1f}, {100 * diff.boot_high:+.1f}]"
        lines.append(
            f"{bench:<14} {diff.problems:>8} {a:>9.1%} {b:>9.1%} {100 * diff.mean:>+8.1f} {100 * diff.stderr:>9.1f} "
            f"{interval:>20} {'yes' if diff.significant else 'no':>6}"
        )
    lines.append("\ndifferences in points of pass@1, paired over the problems both runs hold")
    return "\n".join(lines)


def plot_benchmarks(runs: dict[str, dict[str, dict[str, Any]]], out: str) -> None:
    """pass@1 per benchmark with 95% error bars (1.96 standard errors), one bar per run."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("plotting needs matplotlib: pip install 'reasoning[plot]'") from error
    benches = sorted({bench for summaries in runs.values() for bench in summaries})
    width = 0.8 / len(runs)
    figure, axes = plt.subplots(figsize=(max(6.0, 1.3 * len(benches) * len(runs) + 2), 4.5))
    for offset, (name, summaries) in enumerate(runs.items()):
        xs = [i + (offset - (len(runs) - 1) / 2) * width for i, bench in enumerate(benches) if bench in summaries]
        present = [bench for bench in benches if bench in summaries]
        means = [100 * summaries[bench]["pass@1"] for bench in present]
        errors = [196 * summaries[bench]["pass@1_stderr"] for bench in present]
        axes.bar(xs, means, width, yerr=errors, capsize=3, label=name)
    axes.set_xticks(range(len(benches)), benches)
    axes.set_ylabel("pass@1 (%), 95% error bars")
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)
