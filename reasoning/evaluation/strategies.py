"""What an evaluation does with a problem's samples, one small frozen dataclass per strategy.

The protocol (`evaluation.protocols`) says how many samples a problem gets and how each is
drawn; the strategy says what answers the problem:
- independent: every sample answers for itself (pass@1 averages them; greedy decoding is the
  protocol "greedy" with this strategy);
- self-consistency: the majority answer of the samples (Wang et al. 2023);
- best-of-n: the sample a scorer ranks highest;
- self-refine: a draft, then critique-and-revise rounds kept while a scorer says they improve
  (Madaan et al. 2023); one sample per problem.
A strategy knows its name on the command line, its label in tables and the settings it adds
to a run's header. The generation side needs torch, so `solver` imports it (`solvers`) only
when called: the command line builds its parser from this module without the model stack.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from reasoning.evaluation.attempts import Solve
    from reasoning.evaluation.solvers import Setup

SCORERS = ("logprob", "heuristic", "judge")  # see reasoning.scaling.best_of_n.make_scorer
TIE_BREAKS = ("first", "logprob")


class Strategy:
    """How a problem's answer comes from its samples; the base answers with each sample."""

    name: ClassVar[str]
    math_only: ClassVar[bool] = True  # reads answers with the math extractor (votes, judges, critics)
    single_sample: ClassVar[bool] = False  # works on one sample per problem

    @property
    def label(self) -> str:
        """A short name for tables: "self-consistency", "best-of-n judge"."""
        return self.name

    def settings(self) -> dict[str, Any]:
        """The fields that change results, for the run's saved settings."""
        return {"strategy": self.name, **{field.name: getattr(self, field.name) for field in fields(self)}}

    def solver(self, setup: Setup) -> Solve:
        """The function that generates (and, for this strategy, selects) each problem's completions."""
        raise NotImplementedError


@dataclass(frozen=True)
class Independent(Strategy):
    """Each of the protocol's n samples answers on its own."""

    name = "independent"
    math_only = False

    def solver(self, setup: Setup) -> Solve:
        from reasoning.evaluation.solvers import independent_solver

        return independent_solver(setup)


@dataclass(frozen=True)
class SelfConsistency(Strategy):
    """The majority answer of the n samples. tie_break: equal votes go to the first group
    ("first") or the higher mean log-prob ("logprob"). early_stop: stop sampling a problem once
    its vote is decided (the cancelled samples' tokens count as spent; they are not samples)."""

    name = "self-consistency"
    tie_break: str = "first"
    early_stop: bool = False

    def __post_init__(self) -> None:
        if self.tie_break not in TIE_BREAKS:
            raise ValueError(f"unknown tie_break {self.tie_break!r}; choose one of {', '.join(TIE_BREAKS)}")

    @property
    def label(self) -> str:
        return self.name + (" early-stop" if self.early_stop else "") + (" tie=logprob" if self.tie_break == "logprob" else "")

    def solver(self, setup: Setup) -> Solve:
        from reasoning.evaluation.solvers import self_consistency_solver

        return self_consistency_solver(setup, tie_break=self.tie_break, early_stop=self.early_stop)


@dataclass(frozen=True)
class BestOfN(Strategy):
    """The sample `scorer` (one of SCORERS) ranks highest."""

    name = "best-of-n"
    scorer: str = "logprob"

    def __post_init__(self) -> None:
        _check_scorer(self.scorer)

    @property
    def label(self) -> str:
        return f"{self.name} {self.scorer}"

    def solver(self, setup: Setup) -> Solve:
        from reasoning.evaluation.solvers import best_of_n_solver

        return best_of_n_solver(setup, scorer=self.scorer)


@dataclass(frozen=True)
class SelfRefine(Strategy):
    """A draft (the one sample), then up to `rounds` critique-and-revise rounds, kept while
    `scorer` says they improve; the answer is the best solution."""

    name = "self-refine"
    single_sample = True
    rounds: int = 2
    scorer: str = "logprob"

    def __post_init__(self) -> None:
        if self.rounds < 0:
            raise ValueError(f"need rounds >= 0, got {self.rounds}")
        _check_scorer(self.scorer)

    @property
    def label(self) -> str:
        return f"{self.name} rounds={self.rounds} {self.scorer}"

    def solver(self, setup: Setup) -> Solve:
        from reasoning.evaluation.solvers import self_refine_solver

        return self_refine_solver(setup, rounds=self.rounds, scorer=self.scorer)


STRATEGIES: dict[str, type[Strategy]] = {strategy.name: strategy for strategy in (Independent, SelfConsistency, BestOfN, SelfRefine)}


def parse_strategy(name: str, /, **options: Any) -> Strategy:
    """The strategy called `name`, built from the `options` it takes; the rest are ignored (the
    command line passes every flag, a saved header every setting)."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    cls = STRATEGIES[name]
    return cls(**{field.name: options[field.name] for field in fields(cls) if field.name in options})


def method_label(settings: dict[str, Any]) -> str:
    """How a run is named in tables, from its saved settings: the strategy, the chain-of-thought
    suffix, and the decoding (greedy, or n samples at temperature T)."""
    if settings.get("scoring") == "loglik":
        return "letter likelihood"
    name = settings.get("strategy", "independent")
    strategy = parse_strategy(_FORMER.get(name, name), **settings)
    label = strategy.label + (" +cot" if settings.get("cot") else "")
    if not settings.get("temperature"):
        return label + " greedy"
    return label + f" n={settings.get('n', 1)} T={settings['temperature']}"


# The strategies of the former `eval math500` that are now the independent strategy under a protocol.
_FORMER = {"greedy": "independent", "cot": "independent", "sample": "independent"}


def _check_scorer(scorer: str) -> None:
    if scorer not in SCORERS:
        raise ValueError(f"unknown scorer {scorer!r}; choose one of {', '.join(SCORERS)}")
