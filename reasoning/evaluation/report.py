"""Summaries of evaluation records: accuracy overall, by subject and by level."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


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
