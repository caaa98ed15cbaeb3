"""How llama.cpp is set up on this machine: thread count, extra CPU buffer types, boolean env switches.

Example:
    >>> env_flag("SIFT_UNSET_EXAMPLE_FLAG", default=True)  # unset: the default
    True
    >>> default_threads() >= 1
    True
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from indexing.env import env_bool, env_int, env_text


def default_threads() -> int:
    """llama.cpp threads when none are given: ``$SIFT_LLAMA_THREADS``, else half the cores (at least one).

    llama.cpp's workers spin while they wait for each other, so more threads than free cores is far
    slower. Measured on a shared 2-core machine (load average 1–7 from other work), one RAG prompt
    per model (430 tokens for SmolLM2, 651 for Qwen), 1 and 2 threads interleaved, 3 rounds each,
    medians and ranges (``python bench/bench_rag.py --rounds 3 --threads 1,2``, plus
    ``--model-path data/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf --questions 1
    --thread-tokens 8`` for Qwen):

    ===================  ========  ===============  ================
    model                threads   prompt tok/s     decode tok/s
    ===================  ========  ===============  ================
    SmolLM2-135M Q4_1    1         92 (83–106)      58.6 (47–59)
    SmolLM2-135M Q4_1    2         30 (25–34)       5.3 (1.1–6.0)
    Qwen2.5-Coder-1.5B   1         51 (48–52)       14.3 (13.7–14.6)
    Qwen2.5-Coder-1.5B   2         31 (27–37)       3.3 (0.7–3.7)
    ===================  ========  ===============  ================

    So one thread on two cores; half the cores leaves room for the embedder, the UI and other users.

    Raises:
        ConfigError: ``$SIFT_LLAMA_THREADS`` is not a positive integer.
    """
    return env_int("SIFT_LLAMA_THREADS", max(1, (os.cpu_count() or 1) // 2), minimum=1)


def env_flag(name: str, default: bool) -> bool:
    """A yes/no environment variable (1/true/yes/on or 0/false/no/off, any case); unset or blank: ``default``.

    The one parser of :mod:`indexing.env` (:func:`~indexing.env.env_bool`), under the name the generation
    and RAG modules import.

    Raises:
        ConfigError: any other value, naming the variable.
    """
    return env_bool(name, default)


def default_extra_buffers() -> bool:
    """Whether llama.cpp may use its extra CPU buffer types (weight repacking, AMX).

    Off on CPUs that advertise AMX: llama.cpp's AMX matrix multiply crashes the process (SIGSEGV
    in ``ggml_backend_amx_mul_mat``) on such virtual machines as soon as a prompt is evaluated in
    batches, while the plain kernels work. ``SIFT_LLAMA_EXTRA_BUFFERS=1`` turns them back on.
    """
    if env_text("SIFT_LLAMA_EXTRA_BUFFERS") is not None:
        return env_bool("SIFT_LLAMA_EXTRA_BUFFERS", True)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            return "amx_int8" not in cpuinfo.read()
    except OSError:
        return True


_PARAMS_LOCK = threading.Lock()


@contextlib.contextmanager
def model_params(**fields: object) -> Iterator[None]:
    """Set ``llama_model_params`` fields that ``Llama()`` has no argument for, while it loads."""
    import llama_cpp.llama_cpp as lib

    original = lib.llama_model_default_params

    def patched() -> object:
        params = original()
        for key, value in fields.items():
            setattr(params, key, value)
        return params

    with _PARAMS_LOCK:
        lib.llama_model_default_params = patched
        try:
            yield
        finally:
            lib.llama_model_default_params = original
