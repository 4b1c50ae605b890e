"""`eval score --cross-check`: the samples on which the project's grader and math-verify disagree.

Each re-graded sample of a maths task is put to math-verify too (`grading.crosscheck`: LaTeX
only, time-bounded workers), on the same text the grader read (after `</think>` when the run
is graded after the thinking). Samples that were not read but ruled wrong (thinking never
closed, cut by the token budget) are left out, as are multiple-choice tasks. A reader audits
the disagreements: problem, sample, each grader's answer, the gold and each verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reasoning.evaluation.after_thinking import THINK_END
from reasoning.grading.crosscheck import TIMEOUT, second_opinions

NOT_READ = ("unfinished", "truncated")  # grade methods of samples ruled wrong without reading them


@dataclass(frozen=True)
class Disagreement:
    """One sample the two graders judge differently."""

    problem: str  # the problem's id
    sample: int  # the sample's place in the record
    ours: bool
    theirs: bool
    our_answer: str | None  # what our extraction found
    their_answer: str  # what math-verify read
    gold: str
    their_gold: str  # the gold as math-verify read it


@dataclass(frozen=True)
class CrossCheck:
    """One task's cross-check: how many samples were compared, and where they differ."""

    compared: int
    no_verdict: int  # samples math-verify gave no verdict on in time
    not_read: int  # samples left out (ruled wrong without being read)
    disagreements: tuple[Disagreement, ...]


def cross_check(records: Sequence[dict[str, Any]], *, after_thinking: bool = False, timeout: float = TIMEOUT) -> CrossCheck:
    """Compare each graded sample's verdict with math-verify's on the same text and gold."""
    jobs, not_read = [], 0
    for record in records:
        for k, sample in enumerate(record["samples"]):
            if sample["grade"]["method"] in NOT_READ:
                not_read += 1
            else:
                jobs.append((record, k, sample))
    opinions = second_opinions([(graded_text(s["text"], after_thinking), r["gold"]) for r, _, s in jobs], timeout=timeout)
    disagreements = tuple(
        Disagreement(str(r["id"]), k, s["correct"], theirs.correct, s["extracted"], theirs.answer, r["gold"], theirs.gold)
        for (r, k, s), theirs in zip(jobs, opinions, strict=True)
        if theirs.correct is not None and theirs.correct != s["correct"]
    )
    no_verdict = sum(theirs.correct is None for theirs in opinions)
    return CrossCheck(len(jobs) - no_verdict, no_verdict, not_read, disagreements)


def graded_text(text: str, after_thinking: bool) -> str:
    """The part of a sample the grader read: after the last </think> when graded after the thinking."""
    return text.rsplit(THINK_END, 1)[1] if after_thinking and THINK_END in text else text


def format_cross_checks(checks: dict[str, CrossCheck | None]) -> str:
    """Each task's agreement, then one line per disagreement, for a reader to audit."""
    lines = ["\ncross-check with math-verify (LaTeX extraction; the same text each sample was graded on)"]
    for name, check in checks.items():
        if check is None:
            lines.append(f"{name}: multiple choice, not cross-checked")
            continue
        agree = check.compared - len(check.disagreements)
        lines.append(
            f"{name}: {check.compared} samples compared, {agree} agree, {len(check.disagreements)} disagree"
            f" ({check.no_verdict} without math-verify's verdict in time, {check.not_read} not read: unfinished or truncated)"
        )
        for d in check.disagreements:
            lines.append(
                f"  problem {d.problem} sample {d.sample}: ours {_verdict(d.ours)}, math-verify {_verdict(d.theirs)}"
                f" | our answer {d.our_answer!r}, math-verify read {d.their_answer!r}"
                f" | gold {d.gold!r}, math-verify read {d.their_gold!r}"
            )
    return "\n".join(lines)


def _verdict(correct: bool) -> str:
    return "right" if correct else "wrong"
