"""The Workspace's classification verbs: label texts or the whole index from label descriptions.

:class:`ClassifyVerbs` is a part of :class:`app.workspace.Workspace` (through
:class:`app.analysis.AnalysisVerbs`). Every verb takes one :class:`~pipelines.options.ClassifyOptions`
(the Workspace's :attr:`classify_defaults` with per-call overrides), so ``sift classify``, the Classify page,
``POST /v1/classify`` and the MCP tool give the same labels for the same options.

Example:
    >>> ws.classify(["the striker scored"], {"sport": "football", "food": "cooking"}, expand=8)[0].label
    'sport'                                                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from indexing.errors import ConfigError
from pipelines.options import ClassifyOptions

if TYPE_CHECKING:
    from indexing.embedder import Embedder
    from indexing.store import Store
    from pipelines.classify import Classifier, IndexClassification, Prediction
    from pipelines.classify.auto import AutoClassifier, AutoReport
    from pipelines.classify.expand import Expansion
    from pipelines.classify.label_set import LabelSet
    from pipelines.generation import Generator


def label_set_of(labels: LabelSet | Mapping[str, str | Sequence[str]]) -> LabelSet:
    """``labels`` as a :class:`LabelSet` (a mapping is parsed and checked)."""
    from pipelines.classify.label_set import LabelSet

    return labels if isinstance(labels, LabelSet) else LabelSet.from_mapping(labels, source="labels")


@dataclass(frozen=True)
class Labelled:
    """What :meth:`ClassifyVerbs.classify_with` returns: one prediction per text and, for ``auto``, its report
    (the generator's calls, the sample and its labels, whether it fell back to zero-shot)."""

    predictions: list[Prediction]
    auto: AutoReport | None = None


class ClassifyVerbs:
    """Classify texts and the index (see :class:`app.workspace.Workspace`)."""

    store: Store
    embedder: Embedder
    classify_defaults: ClassifyOptions

    def classify_options(self, options: ClassifyOptions | None = None, **overrides: Any) -> ClassifyOptions:
        """``options`` (default: :attr:`classify_defaults`) with ``overrides`` applied and checked."""
        return (options or self.classify_defaults).merged(**overrides)

    def classify_generator(self, options: ClassifyOptions) -> Generator:
        """The (process-shared) generator ``options`` name, for ``generate``, ``auto`` and ``expand``."""
        from app.analysis import shared_generator

        return shared_generator(options.preset, options.model_path)

    def auto_classifier(
        self, labels: LabelSet, options: ClassifyOptions, zero_shot: Any, *,
        corrections: Mapping[str, str] | None = None, generator: Generator | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> AutoClassifier:
        """An unfitted ``auto`` classifier: ``zero_shot`` for the embedding side, the generator's label scores
        (cached per text for the process, so a rerun with corrections asks nothing twice) for the sample."""
        from pipelines.classify.auto import AutoClassifier
        from pipelines.classify.generative import GenerativeClassifier

        generator = generator or self.classify_generator(options)
        key = (id(generator), repr(labels.to_dict()))
        scorers: dict[Any, GenerativeClassifier] = self.__dict__.setdefault("_auto_scorers", {})
        if key not in scorers:
            if len(scorers) >= 4:
                scorers.pop(next(iter(scorers)))
            scorers[key] = GenerativeClassifier(labels, generator)
        return AutoClassifier(labels, zero_shot, scorers[key].log_scores, sample=options.sample,
                              corrections=corrections, threshold=options.threshold, progress=progress)

    def expand_labels(
        self, labels: LabelSet | Mapping[str, str | Sequence[str]], options: ClassifyOptions | None = None,
        **overrides: Any,
    ) -> Expansion | None:
        """The typical texts the generator writes for each label (``options.expand`` per label), or None when 0.

        Written once per (labels, descriptions, generator, N) and cached on disk: a second call reads them
        (``cached=True``, no generator call). :meth:`classify` and :meth:`label_index` add them to the labels.

        Example:
            >>> ws.expand_labels({"sport": "football", "food": "cooking"}, expand=4).texts["food"][0]  # doctest: +SKIP
            'Whisk the eggs and sugar until pale, then fold in the flour.'
        """
        from pipelines.classify.expand import LabelExpander

        opts = self.classify_options(options, **overrides)
        if not opts.expand:
            return None
        return LabelExpander(self.classify_generator(opts), opts.expand).expand(label_set_of(labels))

    def _labels_for(self, labels: LabelSet, opts: ClassifyOptions) -> LabelSet:
        expansion = self.expand_labels(labels, opts)
        return labels if expansion is None else expansion.labels(labels)

    def label_classifier(
        self, labels: LabelSet | Mapping[str, str | Sequence[str]], options: ClassifyOptions | None = None,
        reference: np.ndarray | None = None, *, progress: Callable[[int, int], None] | None = None, **overrides: Any,
    ) -> Classifier:
        """The classifier ``options`` describe, from label descriptions (expanded when ``expand`` > 0).

        Args:
            labels: names and descriptions.
            options: method, calibration, combine, threshold, expand, generator.
            reference: zero-shot: (n, d) vectors of the texts to be labelled, centred on as ``calibration`` says.
            progress: generate: called with (texts done, total).
        """
        from pipelines.classify.service import text_zero_shot

        opts = self.classify_options(options, **overrides)
        label_set = label_set_of(labels)
        if opts.method == "auto":
            raise ConfigError("the auto method is fitted on the texts it labels: use classify_with or label_index")
        if opts.method == "generate":
            from pipelines.classify.generative import GenerativeClassifier

            return GenerativeClassifier(label_set, self.classify_generator(opts), threshold=opts.threshold,
                                        progress=progress)
        empty = np.zeros((0, 0), dtype=np.float32)
        return text_zero_shot(self._labels_for(label_set, opts), self.embedder,
                              empty if reference is None else reference,
                              calibration=opts.calibration, combine=opts.combine, threshold=opts.threshold)

    def classify(
        self, texts: Sequence[str], labels: LabelSet | Mapping[str, str | Sequence[str]],
        options: ClassifyOptions | None = None, *, corrections: Mapping[str, str] | None = None,
        progress: Callable[[int, int], None] | None = None, **overrides: Any,
    ) -> list[Prediction]:
        """Label ``texts`` from label descriptions, as ``options`` (and ``overrides``, e.g. ``threshold=0.3``) say.

        Zero-shot embeds the texts and centres on them from 50 texts on (``calibration="auto"``); ``generate``
        scores each label name with the generator; ``auto`` has the generator label a sample and a classifier
        on the embeddings label the rest (``corrections``: text → label set by a person, training labels that
        replace the generator's answer); ``priors`` then adapts to the texts. :meth:`classify_with` also
        returns ``auto``'s report.

        Raises:
            ConfigError: no non-empty text, bad labels or options, ``priors`` with fewer than 50 texts.

        Example:
            >>> ws.classify(["the striker scored"], {"sport": "football and games", "food": "cooking"})[0].label
            'sport'                                                     # doctest: +SKIP
        """
        return self.classify_with(texts, labels, options, corrections=corrections, progress=progress,
                                  **overrides).predictions

    def classify_with(
        self, texts: Sequence[str], labels: LabelSet | Mapping[str, str | Sequence[str]],
        options: ClassifyOptions | None = None, *, corrections: Mapping[str, str] | None = None,
        progress: Callable[[int, int], None] | None = None, **overrides: Any,
    ) -> Labelled:
        """:meth:`classify`, with ``auto``'s report (what the generator labelled and whether it fell back).

        Example:
            >>> ws.classify_with(texts, labels, method="auto").auto.calls  # doctest: +SKIP
            20
        """
        from pipelines.classify.priors import check_count, predict_adapted

        opts = self.classify_options(options, **overrides)
        label_set = label_set_of(labels)  # bad labels are refused before any model loads
        texts = list(texts)
        if not any(t.strip() for t in texts):
            raise ConfigError("nothing to classify: give at least one non-empty text")
        check_count(opts.priors, len(texts))
        if corrections and opts.method != "auto":
            raise ConfigError(f"corrections are training labels for --method auto, not for {opts.method}")
        if opts.method == "generate":
            vectors = np.zeros((len(texts), 0), dtype=np.float32)
        else:
            vectors = self.embedder.encode(texts, show_progress=len(texts) > 200)
        if opts.method == "auto":
            zero_shot = self.label_classifier(label_set, opts.merged(method="zero-shot", sample=0), vectors)
            auto = self.auto_classifier(label_set, opts, zero_shot, corrections=corrections, progress=progress)
            corrected = [i for i, t in enumerate(texts) if t in (corrections or {})]
            auto.fit(vectors, lambda rows: [texts[r] for r in rows], corrected)
            return Labelled(predict_adapted(auto, vectors, texts, opts.priors), auto.report)
        classifier = self.label_classifier(labels, opts, vectors, progress=progress)
        return Labelled(predict_adapted(classifier, vectors, texts, opts.priors))

    def classify_index(self, classifier: Classifier, key: str = "label") -> IndexClassification:
        """Label every chunk (and document) of the index from its stored vector — nothing is re-embedded.

        Labels go to metadata under ``key``, so ``search(..., where={key: "positive"})`` filters by them.
        """
        from pipelines.classify import classify_index

        return classify_index(self.store, classifier, key=key, index_model=self.store.manifest.embedding_model)

    def label_index(
        self, labels: LabelSet | Mapping[str, str | Sequence[str]], key: str = "label",
        options: ClassifyOptions | None = None, *, generator: Generator | None = None,
        corrections: Mapping[str, str] | None = None, progress: Callable[[int, int], None] | None = None,
        **overrides: Any,
    ) -> IndexClassification:
        """Label every chunk and document of the index from label descriptions, under metadata ``key``.

        ``"zero-shot"`` scores the stored vectors (nothing is re-embedded) against the descriptions (and the
        generator's texts with ``expand``), centred on the index's own vectors
        (:func:`pipelines.classify.index.index_zero_shot`); ``"generate"`` has ``generator`` (default: the
        options' shared one) pick a label name per chunk; ``"auto"`` has it label a sample of the chunks
        (``corrections``: chunk text → label set by a person) and a classifier on the stored vectors the rest.
        Then ``search(..., where={key: NAME})`` or
        ``where={"doc_" + key: NAME}`` filters by them; the result's ``classifier`` can be saved.

        Raises:
            ConfigError: a key no filter could match (``1x``), a reserved one (``topic_id``, ``source``, ``id``),
                or ``priors`` (they adapt to texts; the index is centred by ``calibration``).

        Example:
            >>> ws.label_index({"animals": "animals and pets", "food": "food and cooking"}).document_counts
            {'animals': 3, 'food': 2}                                   # doctest: +SKIP
        """
        from indexing.filters import label_keys
        from pipelines.classify.index import label_index

        opts = self.classify_options(options, **overrides)
        label_keys(key)  # a key no filter could match is refused before the generator writes anything
        if opts.priors != "none":
            raise ConfigError("priors work on texts and files; for the index use calibration center (zero-shot)")
        label_set = label_set_of(labels)
        if corrections and opts.method != "auto":
            raise ConfigError(f"corrections are training labels for --method auto, not for {opts.method}")
        auto = None
        if opts.method == "auto":
            from pipelines.classify.index import index_zero_shot

            zero_shot = index_zero_shot(self.store, label_set, self.embedder, calibration=opts.calibration,
                                        combine=opts.combine)  # type: ignore[arg-type]
            auto = self.auto_classifier(label_set, opts, zero_shot, corrections=corrections, generator=generator,
                                        progress=progress)
        elif opts.method == "generate":
            generator = generator or self.classify_generator(opts)
        else:
            label_set = self._labels_for(label_set, opts)
        return label_index(
            self.store, label_set, key, method=opts.method,  # type: ignore[arg-type]
            calibration=opts.calibration, combine=opts.combine,  # type: ignore[arg-type]
            threshold=opts.threshold, encoder=self.embedder if opts.method == "zero-shot" else None,
            generator=generator, index_model=self.store.manifest.embedding_model,
            progress=None if auto else progress, auto=auto,
        )
