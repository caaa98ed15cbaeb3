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
    slower: one thread on two cores decoded 4–11x faster than two (docs/decisions/decoding.md).

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
