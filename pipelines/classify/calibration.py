"""Fit a per-label bias and a softmax temperature to labelled scores (k + 1 parameters).

Used to calibrate zero-shot similarities on a dev split and prototype similarities on the
training set: ``p = softmax((scores - bias) / temperature)`` with both chosen to minimise the
cross-entropy of the gold labels.

Example:
    >>> scores = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> t, b = fit_bias_temperature(scores, np.array([0, 1]))
    >>> bool(t > 0), b.shape
    (True, (2,))
"""

from __future__ import annotations

import numpy as np


def cross_entropy(scores: np.ndarray, target: np.ndarray, bias: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of ``target`` under ``softmax((scores - bias) / temperature)``."""
    logits = (scores - bias) / temperature
    logits = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(logits).sum(axis=1))
    return float((log_norm - logits[np.arange(len(target)), target]).mean())


def fit_bias_temperature(
    scores: np.ndarray, target: np.ndarray, temperature: float = 0.025
) -> tuple[float, np.ndarray]:
    """Return (temperature, bias) minimising cross-entropy, starting from centred scores.

    Args:
        scores: (n, k) similarities.
        target: (n,) gold label indices in ``[0, k)``.
        temperature: starting temperature.

    Returns:
        temperature > 0 and a (k,) float32 bias (defined up to a constant; its mean is the mean score).
    """
    scores = np.asarray(scores, dtype=np.float64)
    start = np.concatenate([[np.log(temperature)], scores.mean(axis=0)])

    def loss(params: np.ndarray) -> float:
        return cross_entropy(scores, target, params[1:], float(np.exp(params[0])))

    from scipy.optimize import minimize  # here: SciPy costs ~0.5 s to import

    best = minimize(loss, start, method="L-BFGS-B").x
    bias = best[1:] - best[1:].mean() + scores.mean()
    return float(np.exp(best[0])), bias.astype(np.float32)
