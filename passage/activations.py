"""Activation functions, each an elementwise map of a symbolic tensor; :func:`get` finds one by name."""
from __future__ import annotations

from typing import Callable

from passage.backend import T
from passage.naming import Registry

__all__ = ["sigmoid", "steeper_sigmoid", "hard_sigmoid", "tanh", "hard_tanh", "rectify", "linear",
           "softmax", "get"]


def sigmoid(x):
    return T.sigmoid(x)


def steeper_sigmoid(x):
    """``1 / (1 + exp(-3.75 x))``: saturates sooner than the logistic, as gates should (the talk)."""
    return T.sigmoid(3.75 * x)


def hard_sigmoid(x):
    """Piecewise-linear sigmoid: ``clip(0.2 x + 0.5, 0, 1)``."""
    return T.clip(0.2 * x + 0.5, 0.0, 1.0)


def tanh(x):
    return T.tanh(x)


def hard_tanh(x):
    return T.clip(x, -1.0, 1.0)


def rectify(x):
    return T.maximum(x, 0.0)


def linear(x):
    return x


def softmax(x):
    """Softmax over the last axis; works on (batch, classes) and (time, batch, classes)."""
    shifted = x - x.max(axis=-1, keepdims=True)  # for numerical stability
    e = T.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


REGISTRY = Registry("activation", {**{f.__name__: f for f in (sigmoid, steeper_sigmoid, hard_sigmoid, tanh,
                                                                    hard_tanh, rectify, linear, softmax)},
                                    "relu": rectify})


def get(identifier: str | Callable) -> Callable:
    """The activation called ``identifier`` (case-insensitive), or ``identifier`` itself if callable."""
    return REGISTRY.resolve(identifier)


def name_of(activation: Callable) -> str:
    return REGISTRY.name_of(activation)
