"""reasoning: a toolkit for research on reasoning LLMs (Qwen3, generation, grading, scaling, RL).

The public names below are imported lazily, so `import reasoning.grading` (pure string
maths, used in worker processes) never pays for importing torch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "get_device": "reasoning.device",
    "default_dtype": "reasoning.device",
    "seed_everything": "reasoning.device",
    "Qwen3Config": "reasoning.model.config",
    "Qwen3Model": "reasoning.model.qwen3",
    "KVCache": "reasoning.model.cache",
    "Qwen3Tokenizer": "reasoning.tokenizer",
    "load_pretrained": "reasoning.checkpoint",
    "save_pretrained": "reasoning.checkpoint",
    "generate": "reasoning.generation.api",
    "stream": "reasoning.generation.api",
    "GenerationConfig": "reasoning.generation.options",
    "load_math500": "reasoning.data",
    "extract_answer": "reasoning.grading",
    "grade": "reasoning.grading",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'reasoning' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
