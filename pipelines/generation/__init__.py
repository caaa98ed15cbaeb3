"""Text generation backends (llama.cpp, transformers) behind one small protocol, and named presets.

Example:
    >>> from pipelines.generation import GenerationConfig, load_generator
    >>> gen = load_generator("smollm2-135m")          # doctest: +SKIP
    >>> prompt = gen.render_chat([{"role": "user", "content": "Hi"}])  # doctest: +SKIP
    >>> gen.generate(prompt, GenerationConfig(max_new_tokens=16)).text  # doctest: +SKIP
"""

from __future__ import annotations

from pipelines.generation.base import (
    GenerationConfig,
    GenerationMetrics,
    GenerationResult,
    GenerationStream,
    Generator,
    repeated_ngram,
)
from pipelines.generation.presets import DEFAULT_PRESET, PRESETS, load_generator

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "GenerationConfig",
    "GenerationMetrics",
    "GenerationResult",
    "GenerationStream",
    "Generator",
    "load_generator",
    "repeated_ngram",
]
