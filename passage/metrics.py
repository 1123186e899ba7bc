"""Validation metrics for model selection: each scores targets against predictions.

``get(metric, cost)`` returns a :class:`Metric`. Built in: ``'loss'`` (the model's own cost, lower is
better), ``'perplexity'`` (``exp(loss)``) and ``'bits'`` (``loss / ln 2``: bits per token, per
character for a character model) for language models trained with ``'cce'``, ``'auc'`` (ROC AUC)
and ``'accuracy'``; or any callable ``score(y_true, y_pred)`` where higher is better, called like a
scikit-learn metric: ``y_true`` is 1-D for one output (class ids for a softmax), ``y_pred`` the
predicted values (1-D for one output).

The loss-based metrics are computed from the model's cost batch by batch (:attr:`Metric.from_loss`),
never from all predictions at once: a language model's predictions are vocabulary-sized per token.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.metrics import roc_auc_score

from passage import costs

__all__ = ["Metric", "get"]


@dataclass
class Metric:
    name: str
    score: Callable[[np.ndarray, np.ndarray], float] | None  # (target rows or class ids, prediction rows)
    greater_is_better: bool
    from_loss: Callable[[float], float] | None = None  # for loss-based metrics: the value from the mean cost

    def better(self, new: float, old: float | None) -> bool:
        """Strictly better: ties keep the earlier epoch (the talk: pick the earliest best)."""
        if old is None:
            return True
        return new > old if self.greater_is_better else new < old


def _user_shapes(Y: np.ndarray, P: np.ndarray, cost) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's conventions: 1-D for one output; class ids for a softmax."""
    if _is_softmax(cost, P):
        return (Y if Y.ndim == 1 else Y.argmax(axis=1)), P
    if P.shape[1] == 1:
        return Y[:, 0], P[:, 0]
    return Y, P


def _is_softmax(cost, P: np.ndarray) -> bool:
    return cost is costs.cce and P.shape[1] > 1


def _threshold(cost) -> float:
    return 0.0 if cost in (costs.hinge, costs.squared_hinge) else 0.5


def _auc(cost):
    def auc(Y, P):
        y, p = _user_shapes(Y, P, cost)
        if _is_softmax(cost, P):
            return float(roc_auc_score(y, p, multi_class="ovr", labels=np.arange(P.shape[1])))
        return float(roc_auc_score(y > _threshold(cost), p))
    return auc


def _accuracy(cost):
    def accuracy(Y, P):
        y, p = _user_shapes(Y, P, cost)
        if _is_softmax(cost, P):
            return float(np.mean(y == p.argmax(axis=1)))
        return float(np.mean((y > _threshold(cost)) == (p > _threshold(cost))))
    return accuracy


def get(metric, cost) -> Metric:
    """The metric called ``metric`` for a model trained with ``cost``."""
    if callable(metric):
        name = getattr(metric, "__name__", "score")
        return Metric("score" if name == "<lambda>" else name,
                      lambda Y, P: float(metric(*_user_shapes(Y, P, cost))), True)
    name = str(metric).lower()
    if name == "loss":
        return Metric("loss", None, False, from_loss=float)
    if name in ("perplexity", "bits", "bpc"):
        if cost is not costs.cce:
            raise ValueError(f"{name} measures a language model's cost 'cce' (a softmax over the vocabulary); "
                             f"this model's cost is {getattr(cost, '__name__', cost)!r}")
        if name == "perplexity":
            return Metric("perplexity", None, False, from_loss=math.exp)
        return Metric("bits", None, False, from_loss=lambda loss: loss / math.log(2))
    if name in ("auc", "roc_auc"):
        return Metric("auc", _auc(cost), True)
    if name in ("accuracy", "acc"):
        return Metric("accuracy", _accuracy(cost), True)
    raise ValueError(f"unknown metric {metric!r}; use 'loss', 'auc', 'accuracy', 'perplexity', 'bits' or a "
                     "function score(y_true, y_pred) where higher is better")
