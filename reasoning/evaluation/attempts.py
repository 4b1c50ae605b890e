"""What a strategy hands back for one problem, before grading: its completions and its answer.

No torch here: records, summaries and `eval score` read these shapes without the model stack.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Completion:
    """One generated text, as the engine finished it."""

    text: str
    tokens: int
    finish_reason: str  # "eos", "stop", "length"; "loglik" for a letter read off the likelihoods
    extra: dict[str, Any] = field(default_factory=dict)  # kept in the record: token split, mean log-prob, score


@dataclass(frozen=True)
class Attempt:
    """A strategy's work on one problem.

    `samples` are independent draws under the protocol, each graded on its own (pass@k and
    maj@k read them). `answer` is the completion the strategy answers with, where it chooses
    one: the index of a sample (self-consistency's winner, best-of-N's pick), or a completion of
    its own (a self-refinement revision); None when every sample answers for itself.
    `tokens` counts everything generated for the problem (cancelled samples, critiques, judge
    replies); None means the samples' tokens. `details` is what the strategy saw (votes,
    scores, rounds), kept in the record as it is.
    """

    samples: tuple[Completion, ...]
    seconds: float
    answer: int | Completion | None = None
    tokens: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        return sum(sample.tokens for sample in self.samples) if self.tokens is None else self.tokens


# Receives (problem index, prompt) pairs; yields (position in that list, Attempt) as each problem
# finishes, in any order. The index keys the problem's random streams, so a resumed run (or a
# run split over ranks) samples each problem as an uninterrupted one does.
Solve = Callable[[Sequence[tuple[int, str]]], Iterator[tuple[int, Attempt]]]


class Clock:
    """Seconds since the previous lap, so the problems' seconds add up to the wall time."""

    def __init__(self) -> None:
        self.last = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        seconds, self.last = now - self.last, now
        return seconds
