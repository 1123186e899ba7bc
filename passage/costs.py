"""Costs: each compares targets ``Y`` with predictions ``Yhat`` (..., outputs) and returns a scalar mean.

A cost is a :class:`Cost`: called as ``cost(Y, Yhat)`` it gives the mean over all rows (the 2015
API); :meth:`Cost.rows` gives one value per row (per sequence, or per time step of a per-token
model), so a per-token model can count real tokens only. :func:`get` finds one by name
(case-insensitive). Hinge costs take labels in {-1, +1}. ``cce`` also takes class ids: targets
with one axis fewer than the predictions.
"""
from __future__ import annotations

from typing import Callable

from passage.backend import T
from passage.naming import Registry

__all__ = ["Cost", "bce", "cce", "mse", "mae", "hinge", "squared_hinge", "get", "name_of", "BinaryCrossEntropy",
           "CategoricalCrossEntropy", "MeanSquaredError", "MeanAbsoluteError", "Hinge", "SquaredHinge",
           "SequenceCategoricalCrossEntropy"]

_EPSILON = 1e-7  # keeps log() finite when a prediction saturates in float32


class Cost:
    """A cost from its per-row function ``rows(Y, Yhat) -> Yhat.shape[:-1]``."""

    def __init__(self, rows: Callable):
        self.rows = rows
        self.__name__ = rows.__name__
        self.__doc__ = rows.__doc__

    def __call__(self, Y, Yhat):
        return self.rows(Y, Yhat).mean()

    def __repr__(self) -> str:
        return f"<cost {self.__name__}>"


@Cost
def bce(Y, Yhat):
    """Binary cross-entropy, averaged over outputs."""
    Yhat = T.clip(Yhat, _EPSILON, 1.0 - _EPSILON)
    return -(Y * T.log(Yhat) + (1.0 - Y) * T.log(1.0 - Yhat)).mean(axis=-1)


@Cost
def cce(Y, Yhat):
    """Categorical cross-entropy of one-hot rows ``Y`` (or class ids: one axis fewer) against softmax ``Yhat``."""
    Yhat = T.clip(Yhat, _EPSILON, 1.0 - _EPSILON)
    if Y.ndim == Yhat.ndim - 1:  # class ids: pick each row's probability of its class, in place (a reshape
        return -T.log(T.take_along_axis(Yhat, Y[..., None], axis=-1)[..., 0])  # would gather a split batch)
    return -(Y * T.log(Yhat)).sum(axis=-1)


@Cost
def mse(Y, Yhat):
    """Squared error, averaged over outputs."""
    return T.sqr(Y - Yhat).mean(axis=-1)


@Cost
def mae(Y, Yhat):
    """Absolute error, averaged over outputs."""
    return abs(Y - Yhat).mean(axis=-1)


@Cost
def hinge(Y, Yhat):
    return T.maximum(1.0 - Y * Yhat, 0.0).mean(axis=-1)


@Cost
def squared_hinge(Y, Yhat):
    return T.sqr(T.maximum(1.0 - Y * Yhat, 0.0)).mean(axis=-1)


# The 2015 library's names: its cost functions were classes-style names with short aliases, and its
# SequenceCategoricalCrossEntropy is cce on a per-token model here (the model knows it is per token).
BinaryCrossEntropy, CategoricalCrossEntropy, MeanSquaredError, MeanAbsoluteError = bce, cce, mse, mae
Hinge, SquaredHinge, SequenceCategoricalCrossEntropy = hinge, squared_hinge, cce

REGISTRY = Registry("cost", {**{f.__name__: f for f in (bce, cce, mse, mae, hinge, squared_hinge)},
                             "binary_crossentropy": bce, "categorical_crossentropy": cce,
                             "mean_squared_error": mse, "mean_absolute_error": mae,
                             "BinaryCrossEntropy": bce, "CategoricalCrossEntropy": cce,
                             "MeanSquaredError": mse, "MeanAbsoluteError": mae, "Hinge": hinge,
                             "SquaredHinge": squared_hinge, "SequenceCategoricalCrossEntropy": cce,
                             "seq_cce": cce, "SeqCCE": cce})


def get(identifier: str | Callable) -> Callable:
    """The cost called ``identifier`` (case-insensitive), or ``identifier`` itself if callable."""
    return REGISTRY.resolve(identifier)


def name_of(cost: Callable) -> str:
    """The name ``cost`` is registered under, for saved models."""
    return REGISTRY.name_of(cost)
