"""The evaluation protocols papers report under, as named presets: how many samples, how each
is drawn, in which mode and from which prompt (no torch here, so the command line builds its
parser without importing the model stack). Each reproduces a published table's set-up:

- greedy: one greedy completion per problem, the book's prompt, up to 2,048 new tokens (the
  book's chapter 3 and the Qwen3-0.6B MATH-500 figures it quotes, base 15.2%, reasoning 48.2%).
- r1: DeepSeek-R1's evaluation (DeepSeek-AI 2025, section 3): n samples at temperature 0.6,
  top-p 0.95, up to 32,768 new tokens, pass@1 averaged over the samples, the R1 prompt ("Please
  reason step by step, and put your final answer within \\boxed{}.").
- qwen3: Qwen3's thinking mode (Qwen3 technical report, section 4.6; the model card's best
  practices): temperature 0.6, top-p 0.95, top-k 20, min-p 0, up to 32,768 new tokens
  (38,912 for AIME: `--max-new-tokens 38912`; AIME is averaged over 64 samples: `--n 64`).
- qwen3-nothink: Qwen3's non-thinking mode (same sources): thinking off, temperature 0.7,
  top-p 0.8, top-k 20, presence penalty 1.5.
- base-fewshot: base models as their reports evaluate them: greedy, few-shot with each
  benchmark's standard exemplars (GSM8K 8-shot, Wei et al. 2022; MATH and Minerva 4-shot,
  Lewkowycz et al. 2022; MMLU 5-shot from the dev split), stopping where the next question
  would begin.

`default_protocol(kind)` is qwen3 for reasoning models and base-fewshot for base models.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Protocol:
    """Samples per problem and how each is drawn."""

    name: str
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    max_new_tokens: int = 2048
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    enable_thinking: bool = True  # reasoning models: thinking on (off: the template closes an empty thinking block)
    prompt: str | None = None  # a prompt preset (reasoning.prompts.PROMPT_NAMES); None: the book's
    shots: int | None = 0  # base models' few-shot exemplars; None: each benchmark's standard number

    def __post_init__(self) -> None:
        if self.n < 1 or self.max_new_tokens < 1:
            raise ValueError(f"need n >= 1 and max_new_tokens >= 1, got {self.n} and {self.max_new_tokens}")
        if self.n > 1 and self.temperature == 0:
            raise ValueError(f"{self.n} greedy samples would all be the same: give a temperature above 0, or n = 1")

    def with_overrides(self, **overrides: Any) -> Protocol:
        """This protocol with the given fields replaced (None values leave a field as it is)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown protocol field {unknown[0]!r}")
        return replace(self, **{key: value for key, value in overrides.items() if value is not None})

    @property
    def label(self) -> str:
        """The preset's name, followed by what was changed from it: "greedy", "greedy, n 4, temperature 1.0"."""
        preset = PROTOCOLS.get(self.name)
        changed = [f.name for f in fields(self) if f.name != "name" and preset is not None and getattr(self, f.name) != getattr(preset, f.name)]
        return ", ".join([self.name, *(f"{name} {getattr(self, name)}" for name in changed)])

    def settings(self) -> dict[str, Any]:
        """The fields that change results, for a run's saved settings: the effective protocol as
        `protocol` (the preset and what was changed), the preset it started from, every sampling
        field. The prompt and shots are recorded per task, as each task resolves them."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("name", "prompt", "shots")}
        return {"protocol": self.label, "preset": self.name, **values}


# How a benchmark is scored: sampled completions, graded; or (multiple choice only) the
# likelihood of each choice letter after the prompt, as the book's appendix F scores MMLU.
SCORING = ("generate", "loglik")

PROTOCOLS = {
    "greedy": Protocol("greedy"),
    "r1": Protocol("r1", n=16, temperature=0.6, top_p=0.95, max_new_tokens=32_768, prompt="r1"),
    "qwen3": Protocol("qwen3", n=16, temperature=0.6, top_p=0.95, top_k=20, max_new_tokens=32_768, prompt="r1"),
    "qwen3-nothink": Protocol(
        "qwen3-nothink", n=16, temperature=0.7, top_p=0.8, top_k=20, max_new_tokens=32_768, presence_penalty=1.5,
        enable_thinking=False, prompt="r1",
    ),
    "base-fewshot": Protocol("base-fewshot", shots=None),
}
DEFAULT_PROTOCOLS = {"reasoning": "qwen3", "base": "base-fewshot"}


def default_protocol(kind: str) -> Protocol:
    """The protocol a model of `kind` ("base" or "reasoning") is evaluated under when none is named."""
    return PROTOCOLS[DEFAULT_PROTOCOLS[kind]]


def get_protocol(name: str) -> Protocol:
    """The preset called `name`."""
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]
