"""The inference-time strategies an evaluation can run, one small frozen dataclass each.

A strategy knows its name on the command line, its label in tables, the settings it adds to a
results file's header, whether it samples, and how to build the runner's `complete` function.
The completion code needs torch, so each strategy imports it (from `completers`) only when
called: the command line builds its parser from this module without the model stack.
Adding a strategy is adding one class here and listing it in STRATEGIES.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from torch import nn

    from reasoning.evaluation.runner import Complete
    from reasoning.generation import GenerationConfig
    from reasoning.prompts import PromptKind
    from reasoning.tokenizer import Qwen3Tokenizer

SCORERS = ("logprob", "heuristic", "judge")  # see reasoning.scaling.best_of_n.make_scorer
TIE_BREAKS = ("first", "logprob")
SAMPLING = {"temperature": 0.8, "top_p": 0.9}  # the default for strategies that sample


@dataclass(frozen=True)
class Setup:
    """What a strategy generates with: the model and its tokenizer, the decoding, the prompt
    format, and each prompt's problem text (the judge and the critic read the problem, not
    the prompt)."""

    model: nn.Module
    tokenizer: Qwen3Tokenizer
    config: GenerationConfig
    questions: dict[str, str]
    kind: PromptKind
    enable_thinking: bool = True


class Strategy:
    """How to spend inference compute on one problem. The default: one completion per prompt
    from the engine, its settings just the strategy's name."""

    name: ClassVar[str]
    samples: ClassVar[bool] = False  # draws random samples, so needs a temperature above 0
    cot: ClassVar[bool] = False  # prompts with the chain-of-thought suffix

    @property
    def label(self) -> str:
        """A short name for tables: "greedy", "self-consistency n=8"."""
        return self.name

    @property
    def slug(self) -> str:
        """The label as a file-name part: "self-consistency-n8"."""
        return self.label.replace(" ", "-").replace("=", "")

    def settings(self) -> dict[str, Any]:
        """The fields that change results, for the run's saved settings."""
        return {"strategy": self.name}

    def completer(self, setup: Setup) -> Complete:
        """The runner's `complete` function for this strategy."""
        from reasoning.evaluation.completers import engine_completer

        return engine_completer(setup)


@dataclass(frozen=True)
class Greedy(Strategy):
    """Greedy decoding: one completion per problem."""

    name = "greedy"


@dataclass(frozen=True)
class ChainOfThought(Strategy):
    """Greedy decoding of a prompt that asks for step-by-step reasoning."""

    name = "cot"
    cot = True


@dataclass(frozen=True)
class Sample(Strategy):
    """One random sample per problem."""

    name = "sample"
    samples = True


@dataclass(frozen=True)
class SelfConsistency(Strategy):
    """The majority answer of `n` samples (Wang et al. 2023). tie_break: equal votes go to the
    first group ("first") or the higher mean log-prob ("logprob"). early_stop: stop sampling a
    problem once its vote is decided."""

    name = "self-consistency"
    samples = True
    n: int = 8
    tie_break: str = "first"
    early_stop: bool = False

    def __post_init__(self) -> None:
        _check_positive("n", self.n)
        if self.tie_break not in TIE_BREAKS:
            raise ValueError(f"unknown tie_break {self.tie_break!r}; choose one of {', '.join(TIE_BREAKS)}")

    @property
    def label(self) -> str:
        return f"{self.name} n={self.n}"

    def settings(self) -> dict[str, Any]:
        return {"strategy": self.name, "n": self.n, "tie_break": self.tie_break, "early_stop": self.early_stop}

    def completer(self, setup: Setup) -> Complete:
        from reasoning.evaluation.completers import self_consistency_completer

        return self_consistency_completer(setup, n=self.n, tie_break=self.tie_break, early_stop=self.early_stop)


@dataclass(frozen=True)
class BestOfN(Strategy):
    """The best of `n` samples, as ranked by `scorer` (one of SCORERS)."""

    name = "best-of-n"
    samples = True
    n: int = 8
    scorer: str = "logprob"

    def __post_init__(self) -> None:
        _check_positive("n", self.n)
        _check_scorer(self.scorer)

    @property
    def label(self) -> str:
        return f"best-of-{self.n} {self.scorer}"

    def settings(self) -> dict[str, Any]:
        return {"strategy": self.name, "n": self.n, "scorer": self.scorer}

    def completer(self, setup: Setup) -> Complete:
        from reasoning.evaluation.completers import best_of_n_completer

        return best_of_n_completer(setup, n=self.n, scorer=self.scorer)


@dataclass(frozen=True)
class SelfRefine(Strategy):
    """A draft, then up to `rounds` critique-and-revise rounds, kept while `scorer` says they improve."""

    name = "self-refine"
    rounds: int = 2
    scorer: str = "logprob"

    def __post_init__(self) -> None:
        if self.rounds < 0:
            raise ValueError(f"need rounds >= 0, got {self.rounds}")
        _check_scorer(self.scorer)

    @property
    def label(self) -> str:
        return f"{self.name} rounds={self.rounds} {self.scorer}"

    def settings(self) -> dict[str, Any]:
        return {"strategy": self.name, "scorer": self.scorer, "rounds": self.rounds}

    def completer(self, setup: Setup) -> Complete:
        from reasoning.evaluation.completers import self_refine_completer

        return self_refine_completer(setup, rounds=self.rounds, scorer=self.scorer)


STRATEGIES: dict[str, type[Strategy]] = {
    strategy.name: strategy for strategy in (Greedy, ChainOfThought, Sample, SelfConsistency, BestOfN, SelfRefine)
}


def parse_strategy(name: str, /, **options: Any) -> Strategy:
    """The strategy called `name`, built from the `options` it takes; the rest are ignored (the
    command line passes every flag, a saved header every setting)."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    cls = STRATEGIES[name]
    return cls(**{field.name: options[field.name] for field in fields(cls) if field.name in options})


def strategy_from_settings(settings: dict[str, Any]) -> Strategy:
    """The strategy a results file's settings header names (the inverse of Strategy.settings)."""
    return parse_strategy(settings["strategy"], **settings)


def _check_positive(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"need {name} >= 1, got {value}")


def _check_scorer(scorer: str) -> None:
    if scorer not in SCORERS:
        raise ValueError(f"unknown scorer {scorer!r}; choose one of {', '.join(SCORERS)}")
