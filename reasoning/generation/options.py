"""What a generation run is asked for: `SamplingParams`, `GenerationConfig`, and their flags.

`GenerationConfig` is the one list of generation options: `generate` and `stream` take one
(or its field names as keywords), and the command line maps flags onto its fields one to one
through `add_generation_flags` and `generation_config`. No torch here, so the command line
builds its parser, and a config from the parsed flags, before the model stack is imported.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from reasoning.flags import PENALTY_LIMIT, fraction, non_negative_float, non_negative_int, penalty, positive_int, probability
from reasoning.generation.thinking import DEFAULT_CLOSING


@dataclass(frozen=True)
class SamplingParams:
    """How the next token is chosen: greedy when temperature is 0, else sampled after filtering.

    The penalties are OpenAI's and vLLM's: before anything else, each token's logit loses
    presence_penalty once it has been generated in this sequence, and frequency_penalty for
    each time it has (the prompt's tokens do not count). Positive values discourage
    repetition, negative ones encourage it; OpenAI accepts -2 to 2.
    """

    temperature: float = 0.0
    top_k: int = 0  # 0: no limit
    top_p: float = 1.0  # 1: no limit
    min_p: float = 0.0  # 0: no limit
    presence_penalty: float = 0.0  # 0: none
    frequency_penalty: float = 0.0  # 0: none

    def __post_init__(self) -> None:
        if not self.temperature >= 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 turns it off), got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 0 <= self.min_p <= 1:
            raise ValueError(f"min_p must be in [0, 1], got {self.min_p}")
        for name in ("presence_penalty", "frequency_penalty"):
            if not -PENALTY_LIMIT <= getattr(self, name) <= PENALTY_LIMIT:
                raise ValueError(f"{name} must be in [-{PENALTY_LIMIT:g}, {PENALTY_LIMIT:g}] (OpenAI's range), got {getattr(self, name)}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @property
    def penalized(self) -> bool:
        """Whether a presence or frequency penalty is set (without one, no counts are kept)."""
        return self.presence_penalty != 0 or self.frequency_penalty != 0


@dataclass(frozen=True)
class GenerationConfig:
    """Every option of `generate` and `stream`, validated once."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    presence_penalty: float = 0.0  # subtracted from the logit of each token already generated
    frequency_penalty: float = 0.0  # subtracted once per time a token was generated
    n: int = 1
    seed: int | None = None  # None: a fresh random seed per call
    stop: tuple[str, ...] = ()
    eos_token_ids: tuple[int, ...] | None = None  # None: the tokenizer's (per model kind)
    max_context: int | None = None  # None: the model's max_position_embeddings
    max_batch_size: int = 32
    max_cache_tokens: int | None = None
    thinking_budget: int | None = None  # thinking tokens before the close is forced (see generation.thinking)
    min_thinking: int = 0  # thinking tokens before </think> may be chosen
    wait: int = 0  # early </think>s replaced by "Wait" (s1)
    answer_budget: int | None = None  # tokens after </think>; None: max_new_tokens bounds the whole
    thinking_closing: str = DEFAULT_CLOSING  # forced at the thinking budget; must contain </think>
    compile: bool | None = None  # None: for CUDA runs of engine.COMPILE_MIN_STEPS decode steps or more

    def __post_init__(self) -> None:
        if self.max_new_tokens < 0 or self.n < 1:
            raise ValueError(f"need max_new_tokens >= 0 and n >= 1, got {self.max_new_tokens} and {self.n}")
        object.__setattr__(self, "stop", tuple(self.stop or ()))
        if self.eos_token_ids is not None:
            object.__setattr__(self, "eos_token_ids", tuple(self.eos_token_ids))
        SamplingParams(  # raises on bad values
            self.temperature, self.top_k, self.top_p, self.min_p, self.presence_penalty, self.frequency_penalty
        )
        if (self.thinking_budget is not None and self.thinking_budget < 0) or self.min_thinking < 0 or self.wait < 0:
            raise ValueError("thinking_budget, min_thinking and wait must be >= 0")
        if self.answer_budget is not None and self.answer_budget < 1:
            raise ValueError(f"answer_budget must be >= 1, got {self.answer_budget}")
        if self.thinking_budget is not None and self.min_thinking > self.thinking_budget:
            raise ValueError(
                f"min_thinking {self.min_thinking} is above thinking_budget {self.thinking_budget}: "
                "the budget would force </think> before thinking may end"
            )
        if "</think>" not in self.thinking_closing:
            raise ValueError(f"thinking_closing must contain </think> (it ends the thinking it is forced into), got {self.thinking_closing!r}")

    @property
    def controls_thinking(self) -> bool:
        return self.thinking_budget is not None or self.min_thinking > 0 or self.wait > 0 or self.answer_budget is not None

    @property
    def sampling(self) -> SamplingParams:
        return SamplingParams(self.temperature, self.top_k, self.top_p, self.min_p, self.presence_penalty, self.frequency_penalty)

    def with_options(self, **options: Any) -> GenerationConfig:
        """A copy with the named fields replaced; a name that is not a field raises TypeError."""
        unknown = sorted(set(options) - FIELDS)
        if unknown:
            known = ", ".join(FIELDS_IN_ORDER)
            raise TypeError(f"unknown generation option {unknown[0]!r}; the options are GenerationConfig's fields: {known}")
        return dataclasses.replace(self, **options) if options else self


FIELDS_IN_ORDER = tuple(field.name for field in dataclasses.fields(GenerationConfig))
FIELDS = frozenset(FIELDS_IN_ORDER)


# ---------------------------------------------------------------------------- command-line flags

# Field -> (argparse type, help). The flag is the field's name with dashes: max_new_tokens is
# --max-new-tokens. stop (repeatable) and compile (--compile / --no-compile) take no value type.
FLAGS: dict[str, tuple[Any, str]] = {
    "max_new_tokens": (positive_int, "token budget of each completion"),
    "temperature": (non_negative_float, "0 is greedy"),
    "top_p": (probability, "nucleus sampling: keep the most likely tokens holding this mass"),
    "top_k": (non_negative_int, "keep the k most likely tokens; 0 keeps every token"),
    "min_p": (fraction, "keep tokens at least this fraction as likely as the most likely one"),
    "presence_penalty": (penalty, "subtract this from the logit of every token already generated (-2 to 2, OpenAI's)"),
    "frequency_penalty": (penalty, "subtract this times the number of times a token was generated (-2 to 2, OpenAI's)"),
    "n": (positive_int, "samples per prompt"),
    "seed": (int, "sampling seed (default: a fresh one each run)"),
    "stop": (None, "stop string (repeatable)"),
    "max_context": (positive_int, "context limit in tokens (default: the model's)"),
    "max_batch_size": (positive_int, "rows decoded together"),
    "max_cache_tokens": (positive_int, "cap on KV-cache rows x length"),
    "thinking_budget": (non_negative_int, "thinking tokens after <think> before the close is forced"),
    "min_thinking": (non_negative_int, "thinking tokens before </think> may be chosen"),
    "wait": (non_negative_int, "replace an early </think> by 'Wait' up to this many times (s1)"),
    "answer_budget": (positive_int, "tokens after </think> (default: max-new-tokens bounds the whole)"),
    "thinking_closing": (str, "text forced at the thinking budget; must contain </think>"),
    "compile": (None, "torch.compile the decode step: minutes in every new process on a CPU, where in bf16 the default eager "
                "step on prepacked weights is faster (default: on CUDA, for runs that may take 8,192 decode steps or more)"),
}
SAMPLING_FLAGS = ("max_new_tokens", "temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty", "seed")
THINKING_FLAGS = THINKING_FIELDS = ("thinking_budget", "min_thinking", "wait", "answer_budget", "thinking_closing")


def add_generation_flags(parser: argparse.ArgumentParser, fields: Iterable[str], **defaults: Any) -> None:
    """Add a flag for each named GenerationConfig field; its default is `defaults[field]`, else the config's."""
    for name in fields:
        kind, description = FLAGS[name]
        flag = "--" + name.replace("_", "-")
        default = defaults.get(name, getattr(GenerationConfig, name))
        if name == "compile":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=description)
        elif name == "stop":
            parser.add_argument(flag, action="append", default=list(default or ()), help=description)
        else:
            parser.add_argument(flag, type=kind, default=default, help=description)


def generation_config(args: argparse.Namespace, base: GenerationConfig | None = None) -> GenerationConfig:
    """`base` (default: GenerationConfig()) with each field that the parsed flags hold and is not None.

    None is a flag left unset whose default is "the caller's": a protocol's or a strategy's.
    """
    values = vars(args)
    given = {name: values[name] for name in FIELDS_IN_ORDER if values.get(name) is not None}
    return (base or GenerationConfig()).with_options(**given)
