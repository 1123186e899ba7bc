"""Turning what users pass into checked arrays: input sequences and label rows.

Every check fails with a message that says what was wrong and how to fix it. Whether labels come
one per sequence or one per token is :mod:`passage.outputs`' business; this module checks rows.
"""
from __future__ import annotations

import numpy as np

from passage import backend, costs

__all__ = ["as_list", "sequences", "label_rows"]


def as_list(values, name: str) -> list:
    """``values`` (list, tuple, numpy array, pandas Series) as a list of its items."""
    if hasattr(values, "tolist") and not isinstance(values, np.ndarray):  # pandas Series
        values = values.tolist()
    if isinstance(values, (str, bytes)):
        raise ValueError(f"{name} is a single string; pass a list of sequences")
    try:
        return list(values)
    except TypeError:
        raise ValueError(f"{name} must be a list of sequences, got a {type(values).__name__}") from None


def sequences(X, input_layer, name: str = "X") -> list[np.ndarray]:
    """``X`` as a list of arrays: int32 ids, or ``(length, size)`` float32 steps for a Generic input."""
    if isinstance(X, np.ndarray) and X.dtype != object and X.ndim == 1 and len(X):
        raise ValueError(f"{name} is one flat array; pass a list of sequences, e.g. [[1, 5, 2], [4, 3]]")
    X = as_list(X, name)
    if not X:
        raise ValueError(f"{name} is empty: pass at least one sequence")
    if any(isinstance(x, (str, bytes)) for x in X):
        raise ValueError(f"{name} holds raw text; turn it into id sequences first with "
                         "passage.preprocessing.Tokenizer().fit_transform(texts)")
    if input_layer.input_dtype != "int32":
        return _feature_sequences(X, input_layer.input_size, name)
    arrays = [np.asarray(x).reshape(-1) for x in X]
    ids = np.concatenate(arrays)
    if ids.size:
        if ids.dtype.kind == "f":
            if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)):
                raise ValueError(f"{name} holds non-integer ids; ids must be whole numbers counted from 0")
        elif ids.dtype.kind not in "iub":
            raise ValueError(f"{name} must hold integer ids, got values of type {ids.dtype}")
        low, high = ids.min(), ids.max()
        if low < 0:
            raise ValueError(f"{name} holds negative ids (down to {low}); ids count from 0 (the padding id)")
        n_features = input_layer.input_size
        if n_features is not None and high >= n_features:
            raise ValueError(f"{name} holds ids from {low} to {high}, but the input layer has "
                             f"n_features={n_features} (ids 0..{n_features - 1}); build it with "
                             "n_features=tokenizer.n_features")
    return [x.astype(np.int32) for x in arrays]


def _feature_sequences(X, size: int | None, name: str) -> list[np.ndarray]:
    arrays = [np.asarray(x, dtype=np.float32) for x in X]
    if size is None:  # Generic(size=None): the first non-empty sequence says
        size = next((x.reshape(len(x), -1).shape[1] for x in arrays if x.size), 1)
    steps = [x.reshape(len(x), -1) if x.size else np.zeros((0, size), np.float32) for x in arrays]
    for i, x in enumerate(steps):
        if x.shape[1] != size:
            raise ValueError(f"{name}[{i}] has {x.shape[1]} features per step; the Generic layer expects {size}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{name}[{i}] holds NaN or infinite values; remove or fix them")
    return steps


def label_rows(Y: np.ndarray, n_out: int, cost, name: str, class_ids: bool = False) -> np.ndarray:
    """Labels for ``len(Y)`` rows (sequences or tokens), checked against the output layer.

    Returns float rows ``(n, n_out)``; for a softmax output with ``cost='cce'`` integer class labels
    become one-hot rows, or stay class ids ``(n,)`` int32 when ``class_ids`` (per-token models, whose
    vocabulary-sized outputs would make one-hot rows huge).
    """
    if Y.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got values of type {Y.dtype}")
    if Y.dtype.kind == "f" and not np.all(np.isfinite(Y)):
        raise ValueError(f"{name} holds NaN or infinite values; remove or fix them")
    if cost is costs.cce and n_out > 1 and (Y.ndim == 1 or Y.shape[1:] == (1,)):
        labels = Y.reshape(-1)
        if labels.size and (np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= n_out):
            raise ValueError(f"{name}: class labels must be integers in [0, {n_out}) for a {n_out}-unit "
                             f"softmax output, got {labels.min()}..{labels.max()}")
        if class_ids:
            return labels.astype(np.int32)
        Y = np.eye(n_out, dtype=backend.floatX())[labels.astype(int)]
    elif cost is costs.cce and class_ids and Y.ndim == 2 and Y.shape[1] == n_out:
        if not np.all((Y == 0) | (Y == 1)) or not np.all(Y.sum(axis=1) == 1):
            raise ValueError(f"{name}: per-token 'cce' takes class ids (or exact one-hot rows); give each "
                             "token's class id")
        return Y.argmax(axis=1).astype(np.int32)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2:
        raise ValueError(f"{name} has shape {Y.shape}; expected (rows, {n_out})")
    if Y.shape[1] != n_out:
        raise ValueError(f"{name} has {Y.shape[1]} columns but the last layer has {n_out} outputs; "
                         "make them match")
    if cost is costs.bce and Y.size and (Y.min() < 0 or Y.max() > 1):
        raise ValueError(f"bce needs labels in [0, 1], got {Y.min()}..{Y.max()}; for {int(Y.max()) + 1} "
                         "classes use Dense(size=n_classes, activation='softmax') with cost='cce'")
    return Y.astype(backend.floatX())
