"""The sampling protocols reasoning papers report under, as named presets (no torch here, so
the command line builds its parser without importing the model stack).

- greedy: one greedy completion per problem (the book's chapter 3, and MATH-500 leaderboards).
- r1: DeepSeek-R1's evaluation: several samples per problem at temperature 0.6, top-p 0.95,
  up to 32,768 new tokens, pass@1 averaged over the samples.
- qwen3: Qwen3's recommended thinking-mode sampling: temperature 0.6, top-p 0.95, top-k 20,
  min-p 0, up to 32,768 new tokens.
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
        """The fields that change results, for a run's saved settings: the effective sampling as
        `protocol` (the preset and what was changed), the preset it started from, every field."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "name"}
        return {"protocol": self.label, "preset": self.name, **values}


# How a benchmark is scored: sampled completions, graded; or (multiple choice only) the
# likelihood of each choice letter after the prompt, as the book's appendix F scores MMLU.
SCORING = ("generate", "loglik")

PROTOCOLS = {
    "greedy": Protocol("greedy"),
    "r1": Protocol("r1", n=16, temperature=0.6, top_p=0.95, max_new_tokens=32_768),
    "qwen3": Protocol("qwen3", n=16, temperature=0.6, top_p=0.95, top_k=20, max_new_tokens=32_768),
}


def get_protocol(name: str) -> Protocol:
    """The preset called `name`."""
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]
