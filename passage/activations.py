"""Activation functions, each an elementwise map of a symbolic tensor; :func:`get` finds one by name."""
from __future__ import annotations

from typing import Callable

from passage.backend import T
from passage.naming import Registry

__all__ = ["sigmoid", "steeper_sigmoid", "hard_sigmoid", "theano_hard_sigmoid", "tanh", "hard_tanh", "rectify",
           "clipped_rectify", "t_rectify", "t_linear", "linear", "maxout", "clipped_maxout", "softmax", "get",
           "halves_width"]


def sigmoid(x):
    return T.sigmoid(x)


def steeper_sigmoid(x):
    """``1 / (1 + exp(-3.75 x))``: saturates sooner than the logistic, as gates should (the talk)."""
    return T.sigmoid(3.75 * x)


def hard_sigmoid(x):
    """Passage's piecewise-linear sigmoid: ``clip(x + 0.5, 0, 1)`` (slope 1, as in 2015)."""
    return T.clip(x + 0.5, 0.0, 1.0)


def theano_hard_sigmoid(x):
    """Theano's and Keras's piecewise-linear sigmoid: ``clip(0.2 x + 0.5, 0, 1)`` (slope 0.2). Files
    written before format version 2 that name ``hard_sigmoid`` meant this one and load as it."""
    return T.clip(0.2 * x + 0.5, 0.0, 1.0)


def tanh(x):
    return T.tanh(x)


def hard_tanh(x):
    return T.clip(x, -1.0, 1.0)


def rectify(x):
    return T.maximum(x, 0.0)


def clipped_rectify(x):
    """``clip(x, 0, 5)``"""
    return T.clip(x, 0.0, 5.0)


def t_rectify(x):
    """Thresholded rectifier: ``x`` where ``x > 1``, else 0."""
    return x * (x > 1.0)


def t_linear(x):
    """Thresholded linear: ``x`` where ``|x| > 1``, else 0."""
    return x * (abs(x) > 1.0)


def linear(x):
    return x


def maxout(x):
    """The larger of each pair of neighbouring columns, ``max(x[..., 0::2], x[..., 1::2])``
    (Goodfellow et al., 2013): a layer of ``size`` columns outputs ``size // 2``."""
    return T.maximum(x[..., 0::2], x[..., 1::2])


def clipped_maxout(x):
    """:func:`maxout` clipped to [-5, 5]."""
    return T.clip(maxout(x), -5.0, 5.0)


maxout.halves_width = clipped_maxout.halves_width = True


def halves_width(activation) -> bool:
    """Whether ``activation`` outputs half as many columns as it is given (the maxouts)."""
    return getattr(activation, "halves_width", False)


def softmax(x):
    """Softmax over the last axis; works on (batch, classes) and (time, batch, classes)."""
    shifted = x - x.max(axis=-1, keepdims=True)  # for numerical stability
    e = T.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


_ALL = (sigmoid, steeper_sigmoid, hard_sigmoid, theano_hard_sigmoid, tanh, hard_tanh, rectify, clipped_rectify,
        t_rectify, t_linear, linear, maxout, clipped_maxout, softmax)
REGISTRY = Registry("activation", {**{f.__name__: f for f in _ALL}, "relu": rectify})


def get(identifier: str | Callable) -> Callable:
    """The activation called ``identifier`` (case-insensitive), or ``identifier`` itself if callable."""
    return REGISTRY.resolve(identifier)


def name_of(activation: Callable) -> str:
    return REGISTRY.name_of(activation)
