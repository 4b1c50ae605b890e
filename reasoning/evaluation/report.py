"""Summaries of evaluation records: accuracy overall, by subject and by level; several runs
side by side (a table and a bar chart)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reasoning.evaluation.records import read_run
from reasoning.evaluation.strategies import strategy_from_settings


@dataclass(frozen=True)
class Tally:
    """Correct answers out of a number of problems."""

    correct: int = 0
    total: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def add(self, correct: bool) -> Tally:
        return Tally(self.correct + int(correct), self.total + 1)


@dataclass(frozen=True)
class Summary:
    """Accuracy of a run, broken down, with the compute it spent."""

    overall: Tally
    by_subject: dict[str, Tally] = field(default_factory=dict)
    by_level: dict[str, Tally] = field(default_factory=dict)
    tokens_per_problem: float = 0.0
    seconds: float = 0.0


def summarize(records: list[dict[str, Any]]) -> Summary:
    """Tally records (each with 'correct', and optionally 'subject', 'level', 'tokens', 'seconds')."""
    overall = Tally()
    by_subject: dict[str, Tally] = defaultdict(Tally)
    by_level: dict[str, Tally] = defaultdict(Tally)
    for record in records:
        correct = bool(record["correct"])
        overall = overall.add(correct)
        if record.get("subject") is not None:
            by_subject[record["subject"]] = by_subject[record["subject"]].add(correct)
        if record.get("level") is not None:
            by_level[str(record["level"])] = by_level[str(record["level"])].add(correct)
    tokens = sum(record.get("tokens", 0) for record in records)
    return Summary(
        overall=overall,
        by_subject=dict(sorted(by_subject.items())),
        by_level=dict(sorted(by_level.items())),
        tokens_per_problem=tokens / len(records) if records else 0.0,
        seconds=sum(record.get("seconds", 0.0) for record in records),
    )


def format_summary(summary: Summary) -> str:
    """The summary as a plain-text table for the terminal."""
    lines = [
        f"accuracy {summary.overall.accuracy:.1%} ({summary.overall.correct}/{summary.overall.total}), "
        f"{summary.tokens_per_problem:.0f} tokens per problem, {summary.seconds:.0f} s"
    ]
    for title, groups in (("subject", summary.by_subject), ("level", summary.by_level)):
        if groups:
            lines.append(f"\n{title:<24} {'accuracy':>8} {'correct':>8}")
            lines += [f"{name:<24} {t.accuracy:>8.1%} {t.correct:>4}/{t.total:<4}" for name, t in groups.items()]
    return "\n".join(lines)


@dataclass(frozen=True)
class Run:
    """One results file, summarised for a comparison table."""

    path: str
    method: str
    summary: Summary


def method_label(settings: dict[str, Any], fallback: str) -> str:
    """How a run is named in tables: its strategy's label, plus CoT and temperature where they apply."""
    if "strategy" not in settings:
        return fallback
    strategy = strategy_from_settings(settings)
    label = strategy.label
    if settings.get("cot") and not strategy.cot:
        label += " +cot"
    if strategy.samples:
        label += f" T={settings.get('temperature')}"
    return label


def compare_runs(paths: Sequence[str | Path]) -> list[Run]:
    """Read each results file (its settings header and records) into a comparison row."""
    runs = []
    for path in map(Path, paths):
        settings, records = read_run(path)
        if not records:
            raise ValueError(f"nothing to compare: {path} holds no records")
        runs.append(Run(str(path), method_label(settings or {}, path.stem), summarize(records)))
    return runs


def format_comparison(runs: Sequence[Run]) -> str:
    """Method, accuracy, problems, tokens per problem and wall time, one run per line."""
    width = max([len("method")] + [len(run.method) for run in runs])
    lines = [f"{'method':<{width}}  {'accuracy':>8}  {'problems':>8}  {'tokens/problem':>14}  {'time':>8}"]
    for run in runs:
        s = run.summary
        lines.append(
            f"{run.method:<{width}}  {s.overall.accuracy:>8.1%}  {s.overall.total:>8}  {s.tokens_per_problem:>14.0f}  {format_duration(s.seconds):>8}"
        )
    return "\n".join(lines)


def plot_comparison(runs: Sequence[Run], out: str | Path) -> None:
    """Bar charts of accuracy and of tokens per problem, one bar per run, saved to `out`."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("plotting needs matplotlib: pip install 'reasoning[plot]'") from error
    names = [run.method for run in runs]
    figure, (left, right) = plt.subplots(1, 2, figsize=(max(8, 1.6 * len(runs) + 4), 4.5))
    accuracy = [100 * run.summary.overall.accuracy for run in runs]
    left.bar(names, accuracy, color="tab:blue")
    left.set_ylabel("accuracy (%)")
    for x, value in enumerate(accuracy):
        left.annotate(f"{value:.1f}", (x, value), ha="center", va="bottom")
    right.bar(names, [run.summary.tokens_per_problem for run in runs], color="tab:orange")
    right.set_ylabel("tokens generated per problem")
    for axes in (left, right):
        axes.tick_params(axis="x", labelrotation=30)
        for label in axes.get_xticklabels():
            label.set_horizontalalignment("right")
    figure.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=120)
    plt.close(figure)


def comparison(paths: Sequence[str | Path], plot: str | Path | None = None) -> str:
    """The comparison table of several results files, also drawn to `plot` when given."""
    runs = compare_runs(paths)
    if plot is not None:
        plot_comparison(runs, plot)
    return format_comparison(runs)


def format_duration(seconds: float) -> str:
    """Seconds as a short duration: 12.3 s, 4.5 min, 1.2 h."""
    if seconds < 100:
        return f"{seconds:.1f} s"
    if seconds < 6000:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
