"""Classification by the generator's label log-probabilities, and label-free prior adaptation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexing.errors import ConfigError
from pipelines.classify import EvalConfig, GenerativeClassifier, LabelSet, adapt, em_priors, evaluate, predict
from pipelines.classify.generative import (
    SENTINEL,
    label_prompt,
    log_softmax,
    prefix_free,
    sequence_log_prob,
    spellings,
)
from pipelines.classify.priors import center_log_probs
from pipelines.generation import load_generator
from pipelines.generation.transformers_backend import TransformersGenerator

LABELS = LabelSet.parse(["sports=a text about sports", "cooking=a text about cooking"])
TOY = [
    ("The striker scored twice in the second half and the team won the cup.", "sports"),
    ("Whisk the eggs with sugar, then fold in the flour and bake for twenty minutes.", "cooking"),
    ("The tennis champion won the final in straight sets.", "sports"),
    ("Simmer the tomato sauce with garlic and basil for an hour.", "cooking"),
    ("The marathon runners crossed the finish line after two hours.", "sports"),
    ("Chop the onions finely and fry them in butter until golden.", "cooking"),
]


# ---- the scoring math, by hand ----------------------------------------------------------------


def test_sequence_log_prob_is_the_sum_of_the_chosen_tokens_log_probs() -> None:
    # Two steps over a 3-token vocabulary: p(t0=1) = 0.5, then p(t1=2 | t0) = 0.7 → 0.35.
    steps = log_softmax(np.log(np.array([[0.25, 0.5, 0.25], [0.1, 0.2, 0.7]])))
    assert np.isclose(np.exp(sequence_log_prob(steps, [1, 2])), 0.35)
    assert np.isclose(np.exp(sequence_log_prob(steps[:1], [0])), 0.25)
    with pytest.raises(ValueError, match="2 tokens but 1"):
        sequence_log_prob(steps[:1], [1, 2])


def test_log_softmax_normalises_and_is_shift_invariant() -> None:
    logits = np.array([1000.0, 1000.0 + np.log(3.0)])
    assert np.allclose(np.exp(log_softmax(logits)), [0.25, 0.75])
    assert np.allclose(log_softmax(logits), log_softmax(logits - 1000.0))


def test_prefix_free_and_spellings() -> None:
    assert prefix_free([[5], [6, 7], [6, 8]])
    assert not prefix_free([[6], [6, 8]]) and not prefix_free([[1, 2], [1, 2]])
    assert spellings("sports") == ["sports", "Sports"] and spellings("Arts") == ["Arts"]


def test_prompt_lists_labels_with_descriptions_and_leaves_the_text_to_the_user_turn() -> None:
    system, user = label_prompt(LabelSet.parse(["pos=a happy text", "pos=joy", "neg"]))
    assert "- pos: a happy text; joy\n- neg\n" in system["content"]
    assert user == {"role": "user", "content": SENTINEL}


def test_a_non_llama_cpp_generator_is_refused_before_loading(tmp_path: Path) -> None:
    generator = TransformersGenerator(tmp_path, name="phi-on-gpu")  # constructor only: nothing loads
    with pytest.raises(ConfigError, match="'phi-on-gpu' runs on TransformersGenerator.*--model-path FILE.gguf"):
        GenerativeClassifier(LABELS, generator)


# ---- label-free prior adaptation ----------------------------------------------------------------


def _gaussians(n: int, priors: tuple[float, float], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x | y=0 ~ N(-1, 1), x | y=1 ~ N(1, 1); posteriors under uniform priors: p(1 | x) = sigmoid(2x)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < priors[1]).astype(int)
    x = rng.normal(np.where(y == 1, 1.0, -1.0), 1.0)
    p1 = 1.0 / (1.0 + np.exp(-2.0 * x))
    return np.stack([1.0 - p1, p1], axis=1), y


def test_em_recovers_a_known_prior_shift() -> None:
    probs, y = _gaussians(20_000, (0.8, 0.2), seed=0)
    priors, adjusted = em_priors(probs)
    assert np.allclose(priors, [0.8, 0.2], atol=0.02)
    assert abs(probs[:, 0].mean() - 0.8) > 0.08, "the naive mean posterior is far off: EM is doing the work"
    assert (adjusted.argmax(1) == y).mean() > (probs.argmax(1) == y).mean() + 0.02
    assert np.allclose(em_priors(_gaussians(20_000, (0.5, 0.5), seed=1)[0])[0], [0.5, 0.5], atol=0.02)


def test_center_removes_a_constant_label_bias() -> None:
    probs, y = _gaussians(4_000, (0.5, 0.5), seed=2)
    biased = probs * np.array([np.e**4, 1.0])  # every text leans towards label 0 by a factor e⁴
    biased /= biased.sum(axis=1, keepdims=True)
    assert (biased.argmax(1) == y).mean() < 0.62
    centred = center_log_probs(biased)
    assert (centred.argmax(1) == y).mean() > 0.82
    assert np.allclose(centred, adapt(biased, "center"))


def test_adapt_refuses_small_sets_and_unknown_methods() -> None:
    probs = np.full((10, 2), 0.5)
    assert np.array_equal(adapt(probs, "none"), probs)
    with pytest.raises(ConfigError, match="at least 50 of them, got 10"):
        adapt(probs, "em")
    with pytest.raises(ConfigError, match="priors must be one of"):
        adapt(probs, "mean")


# ---- with the real SmolLM2 (llama.cpp) ----------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2():  # type: ignore[no-untyped-def]
    generator = load_generator("smollm2-135m")
    generator.warm_up()
    return generator


@pytest.mark.slow
def test_smollm2_labels_the_toy_texts(smollm2) -> None:  # type: ignore[no-untyped-def]
    clf = GenerativeClassifier(LABELS, smollm2)
    texts = [t for t, _ in TOY]
    predictions = predict(clf, np.zeros((len(texts), 0)), texts)
    assert [p.label for p in predictions] == [label for _, label in TOY]
    assert all(np.isclose(sum(p.scores.values()), 1.0) for p in predictions)
    assert clf.model_name == "" and clf.generator_name == smollm2.name


@pytest.mark.slow
def test_scores_equal_step_by_step_decoding(smollm2) -> None:  # type: ignore[no-untyped-def]
    import llama_cpp

    clf = GenerativeClassifier(LABELS, smollm2)
    fast = clf.log_scores([TOY[1][0], TOY[0][0]])  # the cached prompt head is reused for the second text
    llm = smollm2.llm
    prompt = smollm2.render_chat(label_prompt(LABELS)).replace(SENTINEL, TOY[0][0])
    ids = llm.tokenize(prompt.encode(), add_bos=False, special=True)
    raw = []
    for name in LABELS.labels:
        total = []
        for form in spellings(name):
            tokens, logp = llm.tokenize(form.encode(), add_bos=False, special=False), 0.0
            llm.reset()
            llm.eval(ids)  # the whole prompt at once, then the label one token at a time, as generation does
            for j, token in enumerate(tokens):
                if j:
                    llm.eval([tokens[j - 1]])
                logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
                logp += log_softmax(logits)[token]
            total.append(logp)
        raw.append(np.logaddexp.reduce(total))
    assert max(len(t) for forms in clf._prepare().label_tokens for t in forms) == 2
    assert np.allclose(fast[1], log_softmax(np.array(raw)), atol=1e-6)
    assert np.allclose(clf.log_scores([TOY[0][0]]), fast[1]), "cached per text"


@pytest.mark.slow
def test_labels_that_prefix_each_other_end_with_the_end_of_turn_token(smollm2) -> None:  # type: ignore[no-untyped-def]
    clf = GenerativeClassifier(LabelSet.parse(["cat=a text about cats", "cat food=a text about pet food"]), smollm2)
    end = smollm2.llm.tokenize(b"<|im_end|>", add_bos=False, special=True)
    forms = clf._prepare().label_tokens
    assert all(t[-1] == end[0] for label in forms for t in label)
    probs = clf.probabilities(np.zeros((1, 0)), ["My kitten sleeps all day on the sofa."])
    assert probs.shape == (1, 2) and np.isclose(probs.sum(), 1.0)


@pytest.mark.slow
def test_eval_generate_on_a_labelled_file(smollm2, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    extra = [(f"The cyclists raced up the mountain in stage {i} of the tour.", "sports") for i in range(2, 7)]
    extra += [(f"Roast the chicken with lemon and thyme for {i} minutes.", "cooking") for i in range(50, 55)]
    rows = "text,label\n" + "".join(f'"{t}",{label}\n' for t, label in TOY + extra)
    (tmp_path / "toy.csv").write_text(rows, encoding="utf-8")
    (tmp_path / "labels.toml").write_text('sports = "a text about sports"\ncooking = "a text about cooking"\n')
    config = EvalConfig(csv=tmp_path / "toy.csv", train_csv=tmp_path / "toy.csv", method="generate",
                        labels=tmp_path / "labels.toml")
    with pytest.raises(ConfigError, match="--priors works with --method zero-shot or generate"):
        evaluate(EvalConfig(csv=tmp_path / "toy.csv", method="logreg", priors="em"))
    result = evaluate(config, generator=smollm2)
    assert result.method == "generate" and result.dev is None and result.sizes["test"] == 16
    assert result.test.accuracy == 1.0
