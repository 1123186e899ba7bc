"""Costs: each maps targets ``Y`` and predictions ``Yhat`` of shape (batch, outputs) to a scalar mean.

:func:`get` finds one by name (case-insensitive). Hinge costs take labels in {-1, +1}.
"""
from __future__ import annotations

from typing import Callable

from passage.backend import T
from passage.naming import lookup, name_in

__all__ = ["bce", "cce", "mse", "mae", "hinge", "squared_hinge", "get", "name_of"]

_EPSILON = 1e-7  # keeps log() finite when a prediction saturates in float32


def bce(Y, Yhat):
    """Binary cross-entropy, averaged over samples and outputs."""
    Yhat = T.clip(Yhat, _EPSILON, 1.0 - _EPSILON)
    return -(Y * T.log(Yhat) + (1.0 - Y) * T.log(1.0 - Yhat)).mean()


def cce(Y, Yhat):
    """Categorical cross-entropy of one-hot ``Y`` against softmax ``Yhat``, averaged over samples."""
    Yhat = T.clip(Yhat, _EPSILON, 1.0 - _EPSILON)
    return -(Y * T.log(Yhat)).sum(axis=-1).mean()


def mse(Y, Yhat):
    return T.sqr(Y - Yhat).mean()


def mae(Y, Yhat):
    return abs(Y - Yhat).mean()


def hinge(Y, Yhat):
    return T.maximum(1.0 - Y * Yhat, 0.0).mean()


def squared_hinge(Y, Yhat):
    return T.sqr(T.maximum(1.0 - Y * Yhat, 0.0)).mean()


_BY_NAME = {f.__name__: f for f in (bce, cce, mse, mae, hinge, squared_hinge)}
_BY_NAME.update({"binary_crossentropy": bce, "categorical_crossentropy": cce,
                 "mean_squared_error": mse, "mean_absolute_error": mae})



def get(identifier: str | Callable) -> Callable:
    """The cost called ``identifier`` (case-insensitive), or ``identifier`` itself if callable."""
    return lookup(_BY_NAME, identifier, "cost")



def name_of(cost: Callable) -> str:
    """The name ``cost`` is registered under, for saved models."""
    return name_in(_BY_NAME, cost, "cost")
