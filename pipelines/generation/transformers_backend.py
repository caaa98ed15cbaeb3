"""Generation with Hugging Face transformers (the GPU path, e.g. Phi-3-mini on CUDA).

Example:
    >>> gen = TransformersGenerator("microsoft/Phi-3-mini-4k-instruct")  # doctest: +SKIP
    >>> prompt = gen.render_chat([{"role": "user", "content": "Hi"}])     # doctest: +SKIP
    >>> gen.generate(prompt, GenerationConfig(max_new_tokens=16)).text    # doctest: +SKIP
    'Hello! How can I help you today?'
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from indexing.errors import ConfigError, ModelNotAvailableError
from pipelines.generation.base import (
    GenerationConfig,
    GenerationMetrics,
    GenerationResult,
    GenerationStream,
    StopFilter,
    repeated_ngram,
    truncate_at_stop,
)


def hf_generate_kwargs(config: GenerationConfig, tokenizer: Any) -> dict[str, Any]:
    """The keyword arguments ``model.generate`` receives for ``config``.

    Sampling options are passed only when sampling, so the model's own defaults never turn greedy
    decoding into sampling.

    Example:
        >>> hf_generate_kwargs(GenerationConfig(max_new_tokens=8), None)
        {'max_new_tokens': 8, 'repetition_penalty': 1.0, 'do_sample': False}
    """
    kwargs: dict[str, Any] = {
        "max_new_tokens": config.max_new_tokens,
        "repetition_penalty": config.repetition_penalty,
        "do_sample": not config.greedy,
    }
    if not config.greedy:
        kwargs.update(temperature=config.temperature, top_p=config.top_p, top_k=config.top_k)
    if config.stop:
        kwargs.update(stop_strings=list(config.stop), tokenizer=tokenizer)
    return kwargs


class _TokenClock:
    """A transformers streamer that only records when each generated token arrives."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:  # generate() first hands over the prompt
            self._prompt_seen = True
            return
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


class TransformersGenerator:
    """A causal LM loaded with ``AutoModelForCausalLM``, prompted with its tokenizer's chat template.

    The constructor only stores the configuration; weights load on :meth:`warm_up` or first use.
    Generation calls are serialised by a lock, so one instance can be shared between threads.

    Args:
        model: a local directory or a hub id (the hub is used only when allowed).
        name: display name (default: the directory or hub id).
        device: ``"cuda"``, ``"cpu"``…; None picks CUDA when available.
        context_length: override of the model's ``max_position_embeddings``.
        gguf_file: a GGUF file name inside ``model`` (a folder): transformers dequantises it into
            ordinary weights (needs the ``gguf`` package), so a quantised llama.cpp model also runs on
            a GPU, e.g. ``TransformersGenerator("data/models", gguf_file="qwen2.5-….gguf")``.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        name: str | None = None,
        device: str | None = None,
        context_length: int | None = None,
        gguf_file: str | None = None,
    ) -> None:
        self.model_id = str(model)
        self.gguf_file = gguf_file
        self.name = name or (Path(model).name if Path(model).exists() else str(model))
        self.device = device
        self._context_length = context_length
        self._model: Any = None
        self._tokenizer: Any = None
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()

    def warm_up(self) -> None:
        """Load tokenizer and weights (idempotent)."""
        with self._load_lock:
            if self._model is not None:
                return
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
            gguf = {"gguf_file": self.gguf_file} if self.gguf_file else {}
            local = {"local_files_only": Path(self.model_id).is_dir()}  # a folder here: never the hub
            try:
                tokenizer = AutoTokenizer.from_pretrained(self.model_id, **gguf, **local)
                model = AutoModelForCausalLM.from_pretrained(self.model_id, dtype=dtype, **gguf, **local)
            except (ImportError, ValueError) as exc:  # missing gguf/accelerate, or a GGUF architecture it cannot read
                raise ModelNotAvailableError(f"transformers could not load {self.model_id!r} ({exc}); a GGUF needs "
                                             "`pip install gguf accelerate` and an architecture transformers "
                                             "supports") from exc
            except OSError as exc:
                raise ModelNotAvailableError(f"could not load generator {self.model_id!r}: {exc}") from exc
            if not getattr(tokenizer, "chat_template", None):
                raise ConfigError(f"the tokenizer of {self.model_id!r} has no chat template; use an instruct model")
            self.device = device
            self._tokenizer, self._model = tokenizer, model.to(device).eval()

    @property
    def tokenizer(self) -> Any:
        """The Hugging Face tokenizer (loads the model)."""
        self.warm_up()
        return self._tokenizer

    @property
    def context_length(self) -> int:
        """Most tokens the model attends to, e.g. 4096 for Phi-3-mini-4k."""
        if self._context_length:
            return self._context_length
        self.warm_up()
        return int(self._model.config.max_position_embeddings)

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` as the model will see it (no extra special tokens added)."""
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """Render messages with the tokenizer's own chat template, ending in the assistant cue."""
        return str(self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    def _inputs(self, prompt: str) -> dict[str, Any]:
        # The template already holds every special token the model expects, so none is added here.
        enc = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
        return {k: v.to(self.device) for k, v in enc.items()}

    def _run(self, inputs: dict[str, Any], config: GenerationConfig, streamer: Any,
             cancel: threading.Event | None = None) -> Any:
        import torch

        with self._generate_lock, torch.inference_mode():
            if not config.greedy:
                torch.manual_seed(config.seed)
            pad = self._tokenizer.pad_token_id
            pad = pad if pad is not None else self._model.generation_config.eos_token_id
            halt = _halts(self._tokenizer, int(inputs["input_ids"].shape[1]), config, cancel)
            return self._model.generate(
                **inputs, streamer=streamer, pad_token_id=pad, **hf_generate_kwargs(config, self._tokenizer), **halt
            )

    def generate(self, prompt: str, config: GenerationConfig) -> GenerationResult:
        """Generate a completion in one call; see :meth:`stream` for the piecewise form."""
        start = time.perf_counter()
        inputs = self._inputs(prompt)
        clock = _TokenClock()
        output = self._run(inputs, config, clock)
        n_prompt = int(inputs["input_ids"].shape[1])
        text = self._tokenizer.decode(output[0, n_prompt:], skip_special_tokens=True)
        text, stopped = truncate_at_stop(text, config.stop)
        text, looped = _cut_repeat(text, config)
        metrics = GenerationMetrics.from_times(start, clock.times, time.perf_counter(), n_prompt)
        return GenerationResult(text, "repetition" if looped else _finish(stopped, metrics, config), metrics)

    def stream(self, prompt: str, config: GenerationConfig) -> GenerationStream:
        """Generate piece by piece (words as they are decoded); the same text as :meth:`generate` when greedy."""
        cancel = threading.Event()  # closing the stream (a client left) ends model.generate at the next token
        return GenerationStream(self._stream(prompt, config, cancel), on_close=cancel.set)

    def _stream(
        self, prompt: str, config: GenerationConfig, cancel: threading.Event
    ) -> Iterator[str | GenerationResult]:
        from transformers import TextIteratorStreamer

        start = time.perf_counter()
        inputs = self._inputs(prompt)
        clock = _TokenClock()

        class _TimedStreamer(TextIteratorStreamer):
            def put(self, value: Any) -> None:
                clock.put(value)
                super().put(value)

        streamer = _TimedStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        failure: list[BaseException] = []

        def work() -> None:
            try:
                self._run(inputs, config, streamer, cancel)
            except BaseException as exc:  # re-raised in the consumer's thread below
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=work, name="sift-generate", daemon=True)
        worker.start()
        stop_filter, stopped, parts = StopFilter(config.stop), False, []
        guard, looped = config.repetition_guard(), False
        try:
            for piece in streamer:
                if not stopped and not looped:
                    emit, stopped = stop_filter.feed(piece)
                    if guard is not None:
                        emit, looped = guard.feed(emit)
                    parts.append(emit)
                    if stopped or looped:
                        cancel.set()  # the rest would be thrown away: stop computing it
                    yield emit
        except GeneratorExit:  # the consumer left: end model.generate, which frees the lock in its thread
            cancel.set()
            raise
        worker.join()
        if failure:
            raise failure[0]
        rest = "" if looped else stop_filter.flush()
        if guard is not None and not looped:
            emit, looped = guard.feed(rest)
            tail, cut = guard.flush() if not looped else ("", True)
            rest, looped = emit + tail, looped or cut
        parts.append(rest)
        yield rest
        n_prompt = int(inputs["input_ids"].shape[1])
        metrics = GenerationMetrics.from_times(start, clock.times, time.perf_counter(), n_prompt)
        reason = "repetition" if looped else _finish(stopped, metrics, config)
        yield GenerationResult("".join(parts), reason, metrics)


def _cut_repeat(text: str, config: GenerationConfig) -> tuple[str, bool]:
    """``text`` cut before the third occurrence of a repeated n-gram (as llama.cpp's stream cuts it)."""
    guard = config.repetition_guard()
    if guard is None:
        return text, False
    emit, looped = guard.feed(text)
    if looped:
        return emit, True
    tail, looped = guard.flush()
    return emit + tail, looped


def _halts(tokenizer: Any, n_prompt: int, config: GenerationConfig, cancel: threading.Event | None) -> dict[str, Any]:
    """``stopping_criteria`` that end ``model.generate`` once the text repeats an n-gram or ``cancel`` is set."""
    if not config.stop_repeats and cancel is None:
        return {}
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Halt(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            text = tokenizer.decode(input_ids[0, n_prompt:], skip_special_tokens=True)
            looped = repeated_ngram(text, config.repeat_ngram, config.stop_repeats) is not None
            return torch.full((input_ids.shape[0],), looped, dtype=torch.bool, device=input_ids.device)

    class _Cancelled(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            done = cancel is not None and cancel.is_set()
            return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

    criteria = ([_Halt()] if config.stop_repeats else []) + ([_Cancelled()] if cancel is not None else [])
    return {"stopping_criteria": StoppingCriteriaList(criteria)}


def _finish(stopped: bool, metrics: GenerationMetrics, config: GenerationConfig) -> str:
    return "stop" if stopped or metrics.completion_tokens < config.max_new_tokens else "length"
