"""Classification by prompting the generator: the label the model is likeliest to answer with.

The prompt lists each label name with its descriptions and asks for one name. Instead of letting
the model write freely (and parsing what it wrote), every label is *scored*: its log-probability
as the continuation of the chat-templated prompt,

    log p(label | prompt) = Σ_j log p(t_j | prompt, t_1 … t_{j-1})   over the label's tokens t_j,

and the scores are normalised over the labels (a softmax), so the result is the model's own
distribution restricted to the allowed answers. Why scoring and not a GBNF grammar with greedy
decoding: a grammar decodes one token at a time, so it picks the label whose *first* token is
likeliest, not the likeliest label, and it yields no probabilities; scoring is the exact
argmax over the label set, gives per-label probabilities (needed by the prior adaptation of
:mod:`pipelines.classify.priors` and by ``--threshold``), and costs little more (see below).

Cost per text, with llama.cpp: the part of the prompt before the text (instructions and labels)
is evaluated once and kept in the KV cache; each text evaluates only its own tokens and the
template's closing tokens; each label of more than one token adds one batched decode of its
tokens after the first (a single-token label set such as ``positive``/``negative`` adds none).
The scores match decoding the prompt and then the label token by token, as generation does
(checked to 1e-6 in the tests); llama.cpp's quantised kernels give slightly different logits for a
one-token step than for the same token inside a longer batch (≈0.07 in a log-probability was seen
with SmolLM2), so a reference evaluated in one batch agrees only to that precision.

A label is scored in two spellings, as written and with its first letter capitalised (models
like to start an answer with a capital: SmolLM2 answers ``Sports`` to a prompt listing
``sports``); the label's probability is the sum over its distinct spellings. When these token
sequences are prefix-free (none begins another), a label's score is the probability that the
answer *begins* with it; otherwise the end-of-turn token is appended to every spelling, so that
``Art`` does not collect the mass of ``Arts``.

Only llama.cpp generators are supported (``generator.llm`` is the loaded ``llama_cpp.Llama``);
any other backend is refused with a :class:`~indexing.errors.ConfigError` naming it.

Example:
    >>> labels = LabelSet.parse(["sports=a text about sports", "cooking=a text about cooking"])
    >>> clf = GenerativeClassifier(labels, load_generator("smollm2-135m"))      # doctest: +SKIP
    >>> predict(clf, np.zeros((1, 0)), ["The striker scored twice."])[0].label  # doctest: +SKIP
    'sports'
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from indexing.errors import ConfigError
from pipelines.classify.label_set import LabelSet

SENTINEL = "<<<SIFT-TEXT>>>"
# The text alone is the user's turn: SmolLM2-135M then tells sports from cooking on every toy
# text, while with the question wrapped around the text it answered the first label every time.
SYSTEM = "You are a text classifier. Categories:\n{categories}\nAnswer with one category name."
USER = "{text}"
MAX_TEXT_TOKENS = 512
MAX_DESCRIPTIONS = 5


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities from logits along the last axis (float64, numerically stable).

    Example:
        >>> np.round(np.exp(log_softmax(np.array([0.0, np.log(3.0)]))), 3)
        array([0.25, 0.75])
    """
    x = np.asarray(logits, dtype=np.float64)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def sequence_log_prob(step_log_probs: np.ndarray, tokens: Sequence[int]) -> float:
    """Σ_j log p(tokens[j] | context, tokens[:j]) from the per-step log-distributions.

    Args:
        step_log_probs: (m, vocab) log-probabilities; row j is the distribution of the j-th token.
        tokens: the m tokens of the continuation.

    Example:
        >>> steps = np.log(np.array([[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]]) + 1e-300)
        >>> round(float(np.exp(sequence_log_prob(steps, [1, 2]))), 3)   # 0.5 · 0.7
        0.35
    """
    if len(tokens) != len(step_log_probs):
        raise ValueError(f"{len(tokens)} tokens but {len(step_log_probs)} distributions")
    return float(sum(step_log_probs[j, t] for j, t in enumerate(tokens)))


def prefix_free(sequences: Sequence[Sequence[int]]) -> bool:
    """True when no sequence is a prefix of (or equal to) another.

    Example:
        >>> prefix_free([[1], [2, 3]]), prefix_free([[1], [1, 3]])
        (True, False)
    """
    seqs = [tuple(s) for s in sequences]
    return not any(i != j and b[: len(a)] == a for i, a in enumerate(seqs) for j, b in enumerate(seqs))


def spellings(name: str) -> list[str]:
    """The answer spellings scored for a label: as written, and with a capital first letter.

    Example:
        >>> spellings("sports"), spellings("Arts")
        (['sports', 'Sports'], ['Arts'])
    """
    return list(dict.fromkeys([name, name[:1].upper() + name[1:]]))


def label_prompt(labels: LabelSet, max_descriptions: int | None = MAX_DESCRIPTIONS) -> list[dict[str, str]]:
    """The chat messages asking for one label, with :data:`SENTINEL` where the text goes.

    Example:
        >>> msgs = label_prompt(LabelSet.parse(["pos=a happy text", "neg=a sad text"]))
        >>> msgs[0]["content"].splitlines()[-3:-1]
        ['- pos: a happy text', '- neg: a sad text']
    """
    lines = []
    for name, descriptions in labels.descriptions.items():
        shown = [d for d in descriptions[:max_descriptions] if d != name]
        lines.append(f"- {name}: {'; '.join(shown)}" if shown else f"- {name}")
    return [
        {"role": "system", "content": SYSTEM.format(categories="\n".join(lines))},
        {"role": "user", "content": USER.format(text=SENTINEL)},
    ]


def check_backend(generator: Any) -> None:
    """Refuse a generator that is not run by llama.cpp, before any weights load.

    Raises:
        ConfigError: the generator is not a llama.cpp one (e.g. transformers on a GPU).
    """
    from pipelines.generation.llama_cpp_backend import LlamaCppGenerator

    if not isinstance(generator, LlamaCppGenerator):
        raise ConfigError(
            f"--method generate scores label log-probabilities with llama.cpp, but the generator "
            f"{getattr(generator, 'name', generator)!r} runs on {type(generator).__name__}; "
            "use a GGUF model: --model-path FILE.gguf (or a preset whose GGUF is on this machine)"
        )


def llama_of(generator: Any) -> Any:
    """The loaded ``llama_cpp.Llama`` behind ``generator`` (loads it).

    Raises:
        ConfigError: the generator is not a llama.cpp one.
    """
    check_backend(generator)
    return generator.llm


class GenerativeClassifier:
    """Label texts by the generator's log-probability of answering each label name.

    Fits the :class:`~pipelines.classify.base.Classifier` protocol: ``needs_texts`` is True and
    the vectors passed to :meth:`probabilities` are ignored (an ``(n, 0)`` array will do), and
    ``model_name`` is empty because no embedding model is involved.

    Args:
        labels: label names and descriptions (the same :class:`LabelSet` zero-shot uses).
        generator: a :class:`~pipelines.generation.llama_cpp_backend.LlamaCppGenerator`.
        threshold: abstain (``"unknown"``) when the chosen label's probability is below it.
        max_text_tokens: a longer text is cut to its first this many tokens.
        max_descriptions: descriptions per label shown in the prompt (the first ones of the file).
        progress: called with (texts done, total) while scoring.
    """

    method = "generate"
    needs_texts = True

    def __init__(
        self,
        labels: LabelSet,
        generator: Any,
        *,
        threshold: float | None = None,
        max_text_tokens: int = MAX_TEXT_TOKENS,
        max_descriptions: int | None = MAX_DESCRIPTIONS,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        if max_text_tokens < 1:
            raise ConfigError(f"max_text_tokens must be ≥ 1, got {max_text_tokens}")
        check_backend(generator)
        self.label_set = labels
        self.labels = labels.labels
        self.generator = generator
        self.generator_name = str(getattr(generator, "name", ""))
        self.model_name = ""
        self.threshold = threshold
        self.max_text_tokens = max_text_tokens
        self.max_descriptions = max_descriptions
        self.progress = progress
        self._prepared: _Prepared | None = None
        self._cache: dict[str, np.ndarray] = {}
        # The generator's own lock serialises every use of its llama.cpp context (not thread-safe).
        self._lock = getattr(generator, "_lock", None) or threading.RLock()

    def _prepare(self) -> _Prepared:
        if self._prepared is None:
            self._prepared = _Prepared.build(self.generator, self.label_set, self.max_descriptions)
        return self._prepared

    def log_scores(self, texts: Sequence[str]) -> np.ndarray:
        """(n, k) log-probabilities of each label, normalised over the labels (rows logsumexp to 0)."""
        prepared = self._prepare()
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        with self._lock:
            for row, text in enumerate(texts):
                if text not in self._cache:
                    self._cache[text] = prepared.score(text, self.max_text_tokens)
                out[row] = self._cache[text]
                if self.progress:
                    self.progress(row + 1, len(texts))
        return log_softmax(out) if len(texts) else out

    def probabilities(self, vectors: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
        """(n, k) probabilities of the labels for ``texts`` (``vectors`` is ignored)."""
        if texts is None:
            raise ConfigError("the generative classifier reads the texts themselves: pass texts=")
        return np.exp(self.log_scores(texts))

    def confidence(self, vectors: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """The chosen label's probability (what ``threshold`` is compared with)."""
        return probs.max(axis=1) if len(probs) else np.zeros(0)


class _Prepared:
    """The tokenised prompt around the text and the label tokens, bound to one loaded ``Llama``."""

    def __init__(self, llm: Any, head: list[int], tail: list[int], label_tokens: list[list[list[int]]]) -> None:
        self.llm, self.head, self.tail, self.label_tokens = llm, head, tail, label_tokens

    @classmethod
    def build(cls, generator: Any, labels: LabelSet, max_descriptions: int | None) -> _Prepared:
        import llama_cpp

        llm = llama_of(generator)
        messages = label_prompt(labels, max_descriptions)
        rendered = generator.render_chat(messages)
        if rendered.count(SENTINEL) != 1:
            raise ConfigError(f"the chat template of {generator.name!r} does not keep the user's text verbatim")
        head_text, tail_text = rendered.split(SENTINEL)
        add_bos = bool(llama_cpp.llama_vocab_get_add_bos(llama_cpp.llama_model_get_vocab(llm.model)))
        head = llm.tokenize(head_text.encode("utf-8"), add_bos=add_bos, special=True)
        tail = llm.tokenize(tail_text.encode("utf-8"), add_bos=False, special=True)
        tokens = [[llm.tokenize(form.encode("utf-8"), add_bos=False, special=False) for form in spellings(name)]
                  for name in labels.labels]
        if not prefix_free([t for forms in tokens for t in forms]):
            end = _end_of_turn(generator, llm, messages)
            tokens = [[t + [end] for t in forms] for forms in tokens]
        longest = max(len(t) for forms in tokens for t in forms)
        if len(head) + len(tail) + longest + 1 > llm.n_ctx():
            raise ConfigError(
                f"the labels and their descriptions take {len(head) + len(tail)} prompt tokens, more than the "
                f"context window of {llm.n_ctx()} allows: shorten the descriptions"
            )
        return cls(llm, head, tail, tokens)

    def score(self, text: str, max_text_tokens: int) -> np.ndarray:
        """(k,) unnormalised log p(label | prompt with ``text``)."""
        llm = self.llm
        body = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        room = llm.n_ctx() - len(self.head) - len(self.tail) - max(len(t) for f in self.label_tokens for t in f)
        body = body[: max(0, min(max_text_tokens, room))]
        self._eval_head()
        llm.eval(body + self.tail)
        n_prompt = llm.n_tokens
        first = log_softmax(_last_logits(llm))
        scores = np.zeros(len(self.label_tokens), dtype=np.float64)
        for i, forms in enumerate(self.label_tokens):
            per_form = []
            for tokens in forms:
                steps = [first]
                if len(tokens) > 1:
                    steps += list(log_softmax(_decode_all(llm, tokens[:-1], n_prompt)))
                per_form.append(sequence_log_prob(np.stack(steps), tokens))
            scores[i] = np.logaddexp.reduce(per_form)
        return scores

    def _eval_head(self) -> None:
        """Keep the shared prompt head in the KV cache; evaluate it on its own when it is not there.

        The head is always evaluated alone (never in one batch with a text), and each text always
        from the end of the head, so a text's scores do not depend on which texts came before.
        """
        llm, n = self.llm, len(self.head)
        if llm.n_tokens >= n and list(llm.input_ids[:n]) == self.head:
            llm.n_tokens = n
            return
        llm.n_tokens = 0
        llm.eval(self.head)


def _last_logits(llm: Any) -> np.ndarray:
    import llama_cpp

    pointer = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(pointer, shape=(llm.n_vocab(),)).astype(np.float64)


def _decode_all(llm: Any, tokens: list[int], start: int) -> np.ndarray:
    """(len(tokens), vocab) logits after each of ``tokens`` placed at positions ``start`` … (one decode).

    ``Llama.eval`` keeps only the last token's logits, so the batch is built here with every
    token's logits requested. Positions from ``start`` on are dropped from the KV cache first;
    ``llm.n_tokens`` stays ``start``, so the next ``Llama.eval`` overwrites these tokens.
    """
    import llama_cpp

    ctx = llm.ctx
    llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(ctx), -1, start, -1)
    batch = llama_cpp.llama_batch_init(len(tokens), 0, 1)
    try:
        batch.n_tokens = len(tokens)
        for i, token in enumerate(tokens):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, start + i, 1
            batch.seq_id[i][0], batch.logits[i] = 0, True
        code = llama_cpp.llama_decode(ctx, batch)
        if code != 0:
            raise RuntimeError(f"llama_decode returned {code} while scoring a label")
        rows = [np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, i), shape=(llm.n_vocab(),))
                for i in range(len(tokens))]
        return np.stack(rows).astype(np.float64)
    finally:
        llama_cpp.llama_batch_free(batch)


def _end_of_turn(generator: Any, llm: Any, messages: list[dict[str, str]]) -> int:
    """The token the chat template puts right after an assistant answer (e.g. ``<|im_end|>``)."""
    rendered = generator.render_chat([*messages[:-1], {"role": "user", "content": "x"},
                                      {"role": "assistant", "content": SENTINEL}])
    after = rendered.split(SENTINEL, 1)[1] if SENTINEL in rendered else ""
    ids = llm.tokenize(after.encode("utf-8"), add_bos=False, special=True) if after.strip() else []
    return int(ids[0]) if ids else int(llm.token_eos())
