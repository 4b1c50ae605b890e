"""Text generation: its options, sampling functions, the batching engine, and `generate` / `stream`.

The names below are imported on first use, so the command line can register `reasoning
generate` (reasoning.commands.generate) without importing torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    **dict.fromkeys(
        ("GenerationResult", "Prompt", "SweepResult", "TextStream", "budget_sweep", "generate", "generate_as_completed", "stream"),
        "reasoning.generation.api",
    ),
    **dict.fromkeys(("GenerationConfig", "SamplingParams"), "reasoning.generation.options"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'reasoning.generation' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
