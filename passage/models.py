"""The RNN model: a stack of layers, a cost and an updater; ``fit`` and ``predict`` on sequences."""
from __future__ import annotations

import logging
import time
from typing import Sequence

import numpy as np

from passage import backend, costs, updates
from passage.iterators import SortedPadded
from passage.layers import Layer, check_stack

__all__ = ["RNN"]

log = logging.getLogger("passage")


class RNN:
    """A recurrent network for sequences.

    Parameters
    ----------
    layers : list of Layer
        Input layer first (Embedding, OneHot or Generic), then recurrent and Dense layers.
    cost : str or callable
        'bce' (sigmoid outputs, labels 0/1), 'cce' (softmax outputs; integer class labels or
        one-hot rows), 'mse' / 'mae' (regression), 'hinge' / 'squared_hinge' (labels -1/+1).
    updater : str or Update
        An optimizer from :mod:`passage.updates`, by name or instance.
    verbose : int
        0 silent, 1 or more: one log line per epoch.
    seed : int or None
        Seeds weight initialisation, shuffling and dropout; the same seed gives the same model.
    """

    def __init__(self, layers: Sequence[Layer], cost="bce", updater="Adam", verbose: int = 2,
                 seed: int | None = None):
        layers = list(layers)
        check_stack(layers)
        self.layers = layers
        self.cost = costs.get(cost)
        self.updater = updates.get(updater)
        self.verbose, self.seed = verbose, seed
        seeds = np.random.SeedSequence(seed).spawn(3)
        init_rng = np.random.default_rng(seeds[0])
        self.rng = np.random.default_rng(seeds[1])  # minibatch shuffling
        self.random = backend.RandomSource(np.random.default_rng(seeds[2]).integers(2**31))
        n_in = None
        for layer in layers:
            if not layer.built:
                layer.build(n_in, init_rng)
            n_in = layer.n_out
        self.n_out = n_in
        self.params = [p for layer in layers for p in layer.params]
        self._functions: dict = {}

    # ---- compiled functions -------------------------------------------------------------------

    @property
    def _input_layer(self) -> Layer:
        return self.layers[0]

    def _symbolic_inputs(self, length: int, batch: int):
        """Symbolic ids/features and mask; static shapes where the backend needs them."""
        shape = (length, batch) if backend.STATIC_SHAPES else (None, None)
        if self._input_layer.input_dtype == "int32":
            X = backend.tensor_input("X", "int32", shape)  # (T, B)
        else:
            X = backend.tensor_input("X", backend.floatX(), shape + (self._input_layer.size,))  # (T, B, F)
        mask = backend.tensor_input("mask", backend.floatX(), shape)  # (T, B)
        return X, mask

    def _forward(self, X, mask, train: bool):
        h = X
        for layer in self.layers:
            h = layer.output(h, mask, train, self.random)
        return h  # (B, n_out)

    def _function(self, kind: str, length: int, batch: int):
        """The compiled 'train' or 'predict' function for this batch shape, compiled on first use."""
        key = (kind, length, batch) if backend.STATIC_SHAPES else (kind,)
        if key not in self._functions:
            X, mask = self._symbolic_inputs(length, batch)
            self.random.start_graph()
            if kind == "predict":
                self._functions[key] = backend.function([X, mask], self._forward(X, mask, train=False))
            else:
                Y = backend.tensor_input("Y", backend.floatX(), (batch, self.n_out) if backend.STATIC_SHAPES
                                         else (None, self.n_out))
                cost = self.cost(Y, self._forward(X, mask, train=True))
                steps = self.updater.get_updates(self.params, cost) + self.random.updates()
                self._functions[key] = backend.function([X, mask, Y], cost, updates=steps)
        return self._functions[key]

    # ---- data checks ----------------------------------------------------------------------------

    def _sequences(self, X, name: str = "X") -> list[np.ndarray]:
        """``X`` as a list of arrays: int ids, or (length, size) floats for a Generic input."""
        if hasattr(X, "tolist") and not isinstance(X, np.ndarray):  # pandas Series
            X = X.tolist()
        if isinstance(X, np.ndarray) and X.dtype != object and X.ndim == 1 and len(X):
            raise ValueError(f"{name} is one flat array; pass a list of sequences, e.g. [[1, 5, 2], [4, 3]]")
        X = list(X)
        if not X:
            raise ValueError(f"{name} is empty: pass at least one sequence")
        if any(isinstance(x, (str, bytes)) for x in X):
            raise ValueError(f"{name} holds raw text; turn it into id sequences first with "
                             "passage.preprocessing.Tokenizer().fit_transform(texts)")
        if self._input_layer.input_dtype != "int32":
            return self._feature_sequences(X, name)
        sequences = [np.asarray(x).reshape(-1) for x in X]
        ids = np.concatenate(sequences) if sequences else np.zeros(0)
        if ids.size:
            if ids.dtype.kind == "f":
                if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)):
                    raise ValueError(f"{name} holds non-integer ids; ids must be whole numbers "
                                     f"in [0, {self._input_layer.n_features})")
            elif ids.dtype.kind not in "iub":
                raise ValueError(f"{name} must hold integer ids, got values of type {ids.dtype}")
            low, high = ids.min(), ids.max()
            n_features = self._input_layer.n_features
            if low < 0 or high >= n_features:
                raise ValueError(f"{name} holds ids from {low} to {high}, but the input layer has "
                                 f"n_features={n_features} (ids 0..{n_features - 1}); build it with "
                                 "n_features=tokenizer.n_features")
        return [x.astype(np.int32) for x in sequences]

    def _feature_sequences(self, X, name):
        size = self._input_layer.size
        sequences = [np.asarray(x, dtype=np.float32).reshape(len(x), -1) if len(x) else
                     np.zeros((0, size), np.float32) for x in X]
        for i, x in enumerate(sequences):
            if x.shape[1] != size:
                raise ValueError(f"{name}[{i}] has {x.shape[1]} features per step; the Generic layer expects {size}")
        return sequences

    def _targets(self, Y, n: int) -> np.ndarray:
        """``Y`` as a float (n, n_out) array; integer class labels are one-hot encoded for cce."""
        Y = np.asarray(Y.tolist() if hasattr(Y, "tolist") and not isinstance(Y, np.ndarray) else Y)
        if len(Y) != n:
            raise ValueError(f"trY has {len(Y)} rows but trX has {n} sequences; they must match")
        if Y.dtype.kind not in "biuf":
            raise ValueError(f"trY must be numeric, got values of type {Y.dtype}")
        if Y.dtype.kind == "f" and not np.all(np.isfinite(Y)):
            raise ValueError("trY holds NaN or infinite values; remove or fix those rows")
        if self.cost is costs.cce and self.n_out > 1 and (Y.ndim == 1 or Y.shape[1:] == (1,)):
            labels = Y.reshape(-1)
            if np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= self.n_out:
                raise ValueError(f"class labels must be integers in [0, {self.n_out}) for a "
                                 f"{self.n_out}-unit softmax output, got {labels.min()}..{labels.max()}")
            Y = np.eye(self.n_out)[labels.astype(int)]
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.ndim != 2:
            raise ValueError(f"trY has shape {Y.shape}; expected (n_samples, {self.n_out})")
        if Y.shape[1] != self.n_out:
            raise ValueError(f"trY has {Y.shape[1]} columns but the last layer has {self.n_out} outputs; "
                             "make them match")
        if self.cost is costs.bce and (Y.min() < 0 or Y.max() > 1):
            raise ValueError(f"bce needs labels in [0, 1], got {Y.min()}..{Y.max()}; for {int(Y.max()) + 1} "
                             "classes use Dense(size=n_classes, activation='softmax') with cost='cce'")
        return Y.astype(backend.floatX())

    def _iterator(self, batch_size: int) -> SortedPadded:
        feature_size = None if self._input_layer.input_dtype == "int32" else self._input_layer.size
        return SortedPadded(size=batch_size, feature_size=feature_size)

    # ---- public API -------------------------------------------------------------------------------

    def fit(self, trX, trY, batch_size: int = 64, n_epochs: int = 1) -> list[dict]:
        """Train for ``n_epochs`` passes over (trX, trY) in minibatches of ``batch_size``.

        Returns the history: one dict per epoch with the mean training cost and seconds taken.
        """
        X = self._sequences(trX, "trX")
        Y = self._targets(trY, len(X))
        iterator = self._iterator(batch_size)
        history = []
        for epoch in range(n_epochs):
            start, total, seen = time.time(), 0.0, 0
            for batch_index, (x, mask, y) in enumerate(iterator.train(X, Y, self.rng)):
                cost = float(self._function("train", x.shape[0], x.shape[1])(x, mask, y))
                if not np.isfinite(cost):
                    raise FloatingPointError(f"the training cost became {cost} at epoch {epoch + 1}, batch "
                                             f"{batch_index + 1}; lower the learning rate or set clipnorm")
                total += cost * len(y)
                seen += len(y)
            history.append({"epoch": epoch + 1, "cost": total / seen, "seconds": time.time() - start})
            if self.verbose:
                log.info("epoch %d/%d  cost %.4f  %.1fs", epoch + 1, n_epochs, total / seen,
                         history[-1]["seconds"])
        return history

    def predict(self, X, batch_size: int = 64) -> np.ndarray:
        """Outputs of the last layer, one row per sequence of ``X``, in the input order."""
        sequences = self._sequences(X)
        outputs = np.zeros((len(sequences), self.n_out), dtype=backend.floatX())
        for indices, x, mask in self._iterator(batch_size).predict(sequences):
            outputs[indices] = np.asarray(self._function("predict", x.shape[0], x.shape[1])(x, mask))
        return outputs
