"""The inference-time strategies an evaluation can run, and their settings (no torch here,
so the command line builds its parser without importing the model stack)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STRATEGIES = ("greedy", "cot", "sample", "self-consistency", "best-of-n", "self-refine")
SCORERS = ("logprob", "heuristic", "judge")
SAMPLING = {"temperature": 0.8, "top_p": 0.9}  # the default for strategies that sample
MULTI_SAMPLE = ("self-consistency", "best-of-n")


@dataclass(frozen=True)
class Strategy:
    """How to spend inference compute on one problem; `name` is one of STRATEGIES.

    n: samples per problem (self-consistency, best-of-n). rounds: critique-and-revise rounds
    (self-refine). scorer: how best-of-n and self-refine rank solutions (SCORERS).
    tie_break: self-consistency ties, "first" or "logprob". early_stop: self-consistency stops
    sampling a problem once its vote is decided.
    """

    name: str = "greedy"
    n: int = 1
    rounds: int = 2
    scorer: str = "logprob"
    tie_break: str = "first"
    early_stop: bool = False

    def __post_init__(self) -> None:
        if self.name not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.name!r}; choose one of {', '.join(STRATEGIES)}")
        if self.scorer not in SCORERS:
            raise ValueError(f"unknown scorer {self.scorer!r}; choose one of {', '.join(SCORERS)}")
        if self.tie_break not in ("first", "logprob"):
            raise ValueError(f"unknown tie_break {self.tie_break!r}; choose 'first' or 'logprob'")
        if self.n < 1 or self.rounds < 0:
            raise ValueError(f"need n >= 1 and rounds >= 0, got n={self.n}, rounds={self.rounds}")
        if self.n > 1 and self.name not in MULTI_SAMPLE:
            raise ValueError(f"--n applies to {' and '.join(MULTI_SAMPLE)}, not {self.name}")

    @property
    def samples(self) -> bool:
        """Whether the strategy draws random samples (and so needs a temperature above 0)."""
        return self.name in ("sample", *MULTI_SAMPLE)

    @property
    def label(self) -> str:
        """A short name for tables: "self-consistency n=8", "self-refine rounds=2 heuristic"."""
        if self.name == "self-consistency":
            return f"{self.name} n={self.n}"
        if self.name == "best-of-n":
            return f"best-of-{self.n} {self.scorer}"
        if self.name == "self-refine":
            return f"{self.name} rounds={self.rounds} {self.scorer}"
        return self.name

    @property
    def slug(self) -> str:
        """The label as a file-name part: "self-consistency-n8"."""
        return self.label.replace(" ", "-").replace("=", "")

    def settings(self) -> dict[str, Any]:
        """The fields that change results, for the run's saved settings."""
        fields: dict[str, Any] = {"strategy": self.name}
        if self.name in MULTI_SAMPLE:
            fields["n"] = self.n
        if self.name in ("best-of-n", "self-refine"):
            fields["scorer"] = self.scorer
        if self.name == "self-consistency":
            fields.update(tie_break=self.tie_break, early_stop=self.early_stop)
        if self.name == "self-refine":
            fields["rounds"] = self.rounds
        return fields
