"""Generation with llama.cpp on a GGUF file (the CPU path, and the offline default SmolLM2-135M).

The chat template is the one embedded in the GGUF (``tokenizer.chat_template``), rendered by
llama-cpp-python's own Jinja2 formatter with the model's BOS/EOS token strings.

Example:
    >>> gen = LlamaCppGenerator("SmolLM2-135M-Instruct.Q4_1.gguf", n_ctx=2048)      # doctest: +SKIP
    >>> prompt = gen.render_chat([{"role": "user", "content": "What is 2 + 2?"}])  # doctest: +SKIP
    >>> gen.generate(prompt, GenerationConfig(max_new_tokens=8)).text              # doctest: +SKIP
    '2 + 2 = 4'
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from indexing.errors import ModelNotAvailableError
from pipelines.generation.base import (
    GenerationConfig,
    GenerationMetrics,
    GenerationResult,
    GenerationStream,
    threaded_stream,
)
from pipelines.generation.llama_cpp_settings import default_extra_buffers, default_threads, env_flag, model_params
from pipelines.generation.prefix_cache import PrefixCache


def llama_completion_kwargs(config: GenerationConfig, extra_stops: tuple[str, ...] = ()) -> dict[str, Any]:
    """The keyword arguments ``Llama.create_completion`` receives for ``config``.

    llama.cpp's own defaults (top_k 40, top_p 0.95, min_p 0.05) are overridden so that only the
    options in ``config`` shape the distribution.

    Example:
        >>> llama_completion_kwargs(GenerationConfig(max_new_tokens=8))["top_k"]
        0
    """
    return {
        "max_tokens": config.max_new_tokens,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "top_k": config.top_k,
        "min_p": 0.0,
        "repeat_penalty": config.repetition_penalty,
        "stop": list(dict.fromkeys(config.stop + extra_stops)),
        "seed": config.seed,
    }


class LlamaCppGenerator:
    """A GGUF model run by llama-cpp-python.

    The constructor only stores the configuration; the model loads on :meth:`warm_up` or first
    use. Calls are serialised by a lock (a llama.cpp context is not thread-safe), held only by the
    thread that generates, never across a ``yield`` to a consumer.

    Prefix cache: the KV state of the prompt's system turn (up to its first end-of-turn token), or of a
    prefix given to :meth:`set_prefix`, is kept between calls, so only the rest of each prompt is
    evaluated; ``metrics.cached_tokens`` counts what was reused. A prompt's greedy output does not depend
    on what was generated before it (see :mod:`pipelines.generation.prefix_cache`).

    Args:
        model_path: the ``.gguf`` file; None when ``hub_repo``/``hub_file`` name it on the hub.
        n_ctx: context window in tokens (prompt + answer).
        n_threads: CPU threads for both prompt evaluation and generation; None:
            ``$SIFT_LLAMA_THREADS`` if set, else :func:`default_threads`.
        n_gpu_layers: layers offloaded to a GPU when llama.cpp was built with one.
        hub_repo: hub repository holding ``hub_file`` (downloaded on warm-up, hub permitting).
        hub_file: file name in ``hub_repo``.
        name: display name (default: the file name).
        extra_buffers: let llama.cpp repack weights into its extra CPU buffer types (AMX, …);
            None: ``$SIFT_LLAMA_EXTRA_BUFFERS`` if set, else off on CPUs with AMX (see
            :func:`default_extra_buffers`).
        prefix_cache: keep the shared prompt prefix's KV cache; None: ``$SIFT_PREFIX_CACHE`` if
            set (``0`` turns it off), else on.

    Raises:
        ConfigError: ``$SIFT_LLAMA_THREADS`` or ``$SIFT_PREFIX_CACHE`` holds an unusable value.
    """

    def __init__(
        self,
        model_path: str | Path | None,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        hub_repo: str | None = None,
        hub_file: str | None = None,
        name: str | None = None,
        extra_buffers: bool | None = None,
        prefix_cache: bool | None = None,
    ) -> None:
        if model_path is None and not (hub_repo and hub_file):
            raise ValueError("give model_path, or both hub_repo and hub_file")
        self.model_path = Path(model_path) if model_path is not None else None
        self.hub = (hub_repo, hub_file) if hub_repo and hub_file else None
        self.name = name or (self.model_path.name if self.model_path else str(hub_file))
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.n_gpu_layers = n_gpu_layers
        self.extra_buffers = default_extra_buffers() if extra_buffers is None else extra_buffers
        self.prefix_cache = env_flag("SIFT_PREFIX_CACHE", True) if prefix_cache is None else prefix_cache
        self._prefixes = PrefixCache()
        self._llm: Any = None
        self._formatter: Any = None
        self._chat_stops: tuple[str, ...] = ()
        self._lock = threading.RLock()

    def warm_up(self) -> None:
        """Load the GGUF and its chat template (idempotent)."""
        with self._lock:
            if self._llm is not None:
                return
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ModelNotAvailableError(
                    "llama-cpp-python is not installed: `pip install 'sift[llama]'` (or llama-cpp-python)"
                ) from exc
            path = self.model_path or self._download()
            if not path.is_file():
                raise ModelNotAvailableError(f"GGUF model file {path} does not exist")
            try:
                with model_params(use_extra_bufts=self.extra_buffers):
                    llm = Llama(
                        model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                        n_threads_batch=self.n_threads, n_gpu_layers=self.n_gpu_layers, verbose=False,
                    )
            except ValueError as exc:
                raise ModelNotAvailableError(f"llama.cpp could not load {path}: {exc}") from exc
            self._formatter, self._chat_stops = _chat_formatter(llm)
            self._prefixes.turn_end = _turn_end_ids(llm, self._chat_stops)
            self._llm = llm

    def _download(self) -> Path:
        from huggingface_hub import hf_hub_download

        assert self.hub is not None
        try:
            return Path(hf_hub_download(repo_id=self.hub[0], filename=self.hub[1]))
        except Exception as exc:  # the hub raises many types; all mean "not available"
            raise ModelNotAvailableError(f"could not download {self.hub[1]} from {self.hub[0]}: {exc}") from exc

    @property
    def llm(self) -> Any:
        """The loaded ``llama_cpp.Llama``."""
        self.warm_up()
        return self._llm

    @property
    def context_length(self) -> int:
        """The context window the model was loaded with, e.g. 2048."""
        return int(self.llm.n_ctx())

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text``, special-token strings parsed as the completion call parses them."""
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """Render messages with the GGUF's own chat template, ending in the assistant cue."""
        self.warm_up()
        return str(self._formatter(messages=messages).prompt)

    def prompt_ids(self, prompt: str, *, eos: bool = True) -> list[int]:
        """The tokens llama.cpp evaluates for ``prompt`` (as ``create_completion`` makes them of a string).

        BOS (and EOS, when ``eos``) are added as the GGUF asks; special-token strings are parsed.
        """
        llm = self.llm
        head = [llm.token_bos()] if llm._model.add_bos_token() and llm.token_bos() != -1 else []
        tail = [llm.token_eos()] if eos and llm._model.add_eos_token() else []
        return head + llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True) + tail

    @property
    def last_prompt_ids(self) -> tuple[int, ...]:
        """The tokens of the prompt most recently generated from (empty before the first call)."""
        return self._prefixes.last

    def set_prefix(self, prefix: str | None) -> int:
        """Keep the KV cache of exactly this prompt prefix (None: the prompt's system turn, the default).

        ``prefix`` must end at a token boundary of the prompts, e.g. right after the system turn's
        end-of-turn token. Prompts that do not start with its tokens are evaluated whole.

        Returns:
            The prefix's length in tokens (0 for None).

        Example:
            >>> system = gen.render_chat([{"role": "system", "content": SYSTEM_PROMPT}])  # doctest: +SKIP
            >>> gen.set_prefix(system[: system.rindex("<|im_start|>")])                   # doctest: +SKIP
            66
        """
        with self._lock:
            tokens = self.prompt_ids(prefix, eos=False) if prefix else None
            self._prefixes.register(tokens)
            return len(tokens or ())

    def generate(self, prompt: str, config: GenerationConfig) -> GenerationResult:
        """Generate in one call: the streaming path drained, so both give the same text and finish reason.

        TTFT is the time to the first generated text; TPOT is llama.cpp's decode time per token.
        """
        stream = self.stream(prompt, config)
        for _ in stream:
            pass
        return stream.result

    def stream(self, prompt: str, config: GenerationConfig) -> GenerationStream:
        """Generate piece by piece (one piece per token; stop strings held back by llama.cpp, loops cut).

        The generation runs in its own thread, which alone takes and releases the model's lock
        (:func:`~pipelines.generation.base.threaded_stream`); closing the stream cancels it.
        """
        return threaded_stream(lambda cancel: self._stream(prompt, config))

    def _prepare(self, ids: list[int]) -> int:
        """Empty the context, load the chosen prefix (restored or evaluated); returns the tokens restored.

        Without a prefix the prompt is evaluated whole from an empty cache: llama-cpp-python would
        otherwise reuse whatever prefix the last call left and re-evaluate only the last prompt
        token, whose logits then differ from a batched evaluation — enough to change a greedy choice
        between near-ties, and so the text, from one call to the next.
        """
        import llama_cpp

        llama_cpp.llama_perf_context_reset(self.llm._ctx.ctx)
        prefix = self._prefixes.choose(ids) if self.prefix_cache else None
        self._prefixes.remember(ids)
        if prefix is None:
            self.llm.reset()
            return 0
        return self._prefixes.load(self.llm, prefix)

    def _decode_stats(self) -> tuple[int, float]:
        """(tokens decoded one by one after the prompt, seconds spent on them) since the last reset."""
        import llama_cpp

        perf = llama_cpp.llama_perf_context(self.llm._ctx.ctx)
        return int(perf.n_eval), perf.t_eval_ms / 1000.0

    def _stream(self, prompt: str, config: GenerationConfig) -> Iterator[str | GenerationResult]:
        with self._lock:
            start = time.perf_counter()
            ids = self.prompt_ids(prompt)
            cached = self._prepare(ids)
            kwargs = llama_completion_kwargs(config, self._chat_stops)
            guard = config.repetition_guard()
            parts: list[str] = []
            first: float | None = None
            finish = "stop"
            with contextlib.closing(self.llm.create_completion(ids, stream=True, **kwargs)) as chunks:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    finish = choice.get("finish_reason") or finish
                    piece, looped = guard.feed(choice["text"]) if guard else (choice["text"], False)
                    first = first or (time.perf_counter() if choice["text"] else None)
                    if piece:
                        parts.append(piece)
                        yield piece
                    if looped:
                        finish = "repetition"
                        break
            if guard and finish != "repetition":
                piece, looped = guard.flush()
                parts.append(piece)
                yield piece
                finish = "repetition" if looped else finish
            total = time.perf_counter() - start
            n_eval, decode_s = self._decode_stats()
            # Every generated token but the last is evaluated to produce the next one; an
            # end-of-turn token ends generation without being counted or evaluated.
            n_out = n_eval + (1 if finish in ("length", "repetition") else 0)
            tpot = decode_s / n_eval if n_eval else 0.0
            metrics = GenerationMetrics(len(ids), n_out, (first or start + total) - start, tpot,
                                        1.0 / tpot if tpot else 0.0, total, cached)
        yield GenerationResult("".join(parts), finish, metrics)


# End-of-turn markers of common chat templates; those that are one token of the model's vocabulary mark where
# a prompt's system turn ends (the prefix cache's split point).
TURN_MARKERS = ("<|im_end|>", "<|end|>", "<|eot_id|>", "<end_of_turn>")


def _turn_end_ids(llm: Any, stops: tuple[str, ...]) -> frozenset[int]:
    """Token ids that close a chat turn in this model: its stop strings and known markers that are one token."""
    ids = (llm.tokenize(m.encode("utf-8"), add_bos=False, special=True) for m in (*stops, *TURN_MARKERS) if m)
    return frozenset(x[0] for x in ids if len(x) == 1)


def _chat_formatter(llm: Any) -> tuple[Any, tuple[str, ...]]:
    """The GGUF's chat template as a llama-cpp-python formatter, and its end-of-turn stop strings."""
    from llama_cpp import llama_chat_format

    eos_id, bos_id = llm.token_eos(), llm.token_bos()
    eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
    bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
    template = llm.metadata.get("tokenizer.chat_template")
    if template:
        return llama_chat_format.Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos), (eos,)
    # No embedded template: llama-cpp-python's ChatML formatter, the most common convention.
    return llama_chat_format.format_chatml, ("<|im_end|>",)
