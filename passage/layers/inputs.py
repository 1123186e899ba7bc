"""Input layers: the first layer of a model reads its raw input. Embedding and OneHot read integer
ids ``(time, batch)``; Generic reads real-valued steps ``(time, batch, size)``. Every one outputs
``(time, batch, features)`` with zeros at padding steps.
"""
from __future__ import annotations

import numpy as np

from passage import backend
from passage.backend import T
from passage.layers.base import Layer, Param, init_name

__all__ = ["InputLayer", "Embedding", "OneHot", "Generic"]


class InputLayer(Layer):
    """Shared frame: an input size that may be learned from the first ``fit``'s data (when given as
    None), and outputs zeroed at padding steps, so padding never reaches a later layer."""

    is_input = True
    input_dtype = "int32"  # the dtype the model feeds: "int32" ids or "float" steps

    @property
    def input_size(self) -> int | None:
        """Ids the layer reads (``n_features``), or features per step (Generic's ``size``)."""
        raise NotImplementedError

    def set_input_size(self, n: int) -> None:
        raise NotImplementedError

    @property
    def input_size_known(self) -> bool:
        return self.input_size is not None

    def fit_input(self, sequences) -> None:
        """Learn the input size from the training data: the largest id + 1 for ids."""
        self.set_input_size(1 + max((int(x.max()) for x in sequences if len(x)), default=0))

    def features(self, x):
        """The layer's features for every step, padding included: ``(time, batch, n_out)``."""
        raise NotImplementedError

    def output(self, x, mask, train, masks):
        return self.features(x) * mask[:, :, None]  # (T, B, n_out), zero at padding


class Embedding(InputLayer):
    """Learned vectors for integer ids: ``(time, batch)`` ids -> ``(time, batch, size)``.

    Padding positions output zeros, so the PAD id's vector (id 0) never gets a gradient from padding.
    ``p_drop`` is word dropout: while training, each word of a sequence is dropped (its whole vector
    zeroed) with probability ``p_drop`` and the others are scaled by ``1 / (1 - p_drop)``; prediction
    reads every word. Parameter ``W`` (n_features, size).

    ``adversarial`` is adversarial training (Miyato, Dai and Goodfellow, 2017): each training batch
    is also read with every sequence's vectors pushed, by ``adversarial`` times their length (the
    norm over the sequence's words), in the direction that raises the cost most (its gradient), and
    the model lowers the sum of both costs. A regulariser that keeps word order and every word;
    each training step costs about twice as much. Prediction is unchanged.
    """

    def __init__(self, size: int = 128, n_features: int | None = 256, init="uniform", weights=None,
                 p_drop: float = 0.0, adversarial: float = 0.0):
        super().__init__(weights=weights, p_drop=p_drop)
        if not (isinstance(adversarial, (int, float, np.integer, np.floating)) and 0.0 <= adversarial < 1.0):
            raise ValueError(f"adversarial is the size of the push relative to each sequence's vectors and must "
                             f"be in [0, 1), got {adversarial!r}")
        self.size, self.n_features, self.init = size, n_features, init
        self.adversarial = float(adversarial)
        self.n_out = size

    @property
    def input_size(self):
        return self.n_features

    def set_input_size(self, n):
        self.n_features = n

    def param_specs(self, n_in):
        return [Param("W", (self.n_features, self.size), self.init)]

    def features(self, ids):
        return self.W[ids]  # (T, B, size)

    def output(self, x, mask, train, masks):
        return self.dropout(super().output(x, mask, train, masks), train, masks, whole_vectors=True)

    def pushed(self, vectors, gradient, mask):
        """Adversarial training's input: ``vectors`` (this layer's training output) moved along the
        cost's ``gradient`` by ``adversarial`` times each sequence's norm. Both norms run over a
        sequence's real words and are constants to differentiation."""
        direction = backend.constant(gradient) * mask[:, :, None]

        def norms(v):  # (1, B, 1): one per sequence
            return T.sqrt(T.sum(T.sqr(v), axis=(0, 2)))[None, :, None]
        return vectors + self.adversarial * backend.constant(norms(vectors)) * direction / (norms(direction) + 1e-20)

    def get_config(self):
        return {"size": self.size, "n_features": self.n_features, "init": init_name(self.init), "p_drop": self.p_drop,
                "adversarial": self.adversarial}


class OneHot(InputLayer):
    """One-hot vectors for integer ids: ``(time, batch)`` -> ``(time, batch, n_features)``; no parameters."""

    def __init__(self, n_features: int | None = 256, weights=None):
        super().__init__(weights=weights)  # no parameters: the 2015 signature's weights= can only be empty
        self.n_features = self.n_out = n_features

    @property
    def input_size(self):
        return self.n_features

    def set_input_size(self, n):
        self.n_features = self.n_out = n

    def features(self, ids):
        one_hot = T.eq(ids[:, :, None], T.arange(self.n_features)[None, None, :])  # (T, B, n_features)
        return T.cast(one_hot, backend.floatX())

    def get_config(self):
        return {"n_features": self.n_features}


class Generic(InputLayer):
    """Real-valued sequences, each an array ``(length, size)``: -> ``(time, batch, size)``."""

    input_dtype = "float"

    def __init__(self, size: int | None = 1, weights=None):
        super().__init__(weights=weights)  # no parameters: the 2015 signature's weights= can only be empty
        self.size = self.n_out = size

    @property
    def input_size(self):
        return self.size

    def set_input_size(self, n):
        self.size = self.n_out = n

    def fit_input(self, sequences) -> None:
        """``size=None``: as many features per step as the training data has."""
        self.set_input_size(int(np.shape(sequences[0])[-1]))

    def features(self, x):
        return x

    def get_config(self):
        return {"size": self.size}
