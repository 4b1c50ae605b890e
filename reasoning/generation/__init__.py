"""Text generation: sampling functions, the batching engine, and `generate` / `stream`."""

from reasoning.generation.api import (
    GenerationConfig,
    GenerationResult,
    Prompt,
    TextStream,
    generate,
    generate_as_completed,
    stream,
)
from reasoning.generation.sampling import SamplingParams

__all__ = ["GenerationConfig", "GenerationResult", "Prompt", "SamplingParams", "TextStream", "generate", "generate_as_completed", "stream"]
