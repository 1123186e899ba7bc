"""Minibatches of variable-length sequences: padded, masked, time-major (numpy only).

The talk's "SortedPadded" scheme: shuffle, sort by length within chunks of a few batches so each
batch holds sequences of similar length, pad each batch only to a bucketed length of its longest
sequence, and serve batches in random order. Prediction sorts everything by length and puts the
outputs back in input order.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

__all__ = ["bucket_length", "pad", "SortedPadded"]

PAD = 0


def bucket_length(length: int, minimum: int = 8) -> int:
    """Round a batch's length up to the next of 8, 12, 16, 24, 32, 48, ... (2^k and 1.5 * 2^k).

    Few distinct lengths mean few compiled shapes (XLA compiles once per shape), and at most a third
    of a batch is padding beyond its longest sequence.
    """
    size = minimum
    while size < length:
        size = size * 3 // 2 if size & (size - 1) == 0 else size * 4 // 3
    return size


def pad(sequences: Sequence, length: int, feature_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad ``sequences`` to ``length`` steps.

    Returns ``(x, mask)``: x is ``(length, batch)`` int32 ids, or ``(length, batch, feature_size)``
    floats when ``feature_size`` is given; mask is ``(length, batch)`` float32, 1 on real steps.
    """
    batch = len(sequences)
    if feature_size is None:
        x = np.full((length, batch), PAD, dtype=np.int32)
    else:
        x = np.zeros((length, batch, feature_size), dtype=np.float32)
    mask = np.zeros((length, batch), dtype=np.float32)
    for column, sequence in enumerate(sequences):
        n = len(sequence)
        x[:n, column] = sequence
        mask[:n, column] = 1.0
    return x, mask


class SortedPadded:
    """Batches for training (:meth:`train`) and prediction (:meth:`predict`).

    ``size`` is the batch size; ``chunk_batches`` how many batches are sorted together (more means
    less padding, less randomness).
    """

    def __init__(self, size: int = 64, chunk_batches: int = 20, feature_size: int | None = None):
        if size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {size}")
        self.size, self.chunk_batches, self.feature_size = size, chunk_batches, feature_size

    def _batch(self, X: Sequence, indices: np.ndarray):
        longest = max((len(X[i]) for i in indices), default=0)
        return pad([X[i] for i in indices], bucket_length(longest), self.feature_size)

    def train(self, X: Sequence, rng: np.random.Generator) -> Iterator:
        """Yield ``(indices, x, mask)`` batches covering every sample once, in a random order; the
        caller takes each batch's labels at ``indices``."""
        order = rng.permutation(len(X))
        chunk = self.size * self.chunk_batches
        batches = []
        for start in range(0, len(order), chunk):
            indices = order[start:start + chunk]
            indices = indices[np.argsort([len(X[i]) for i in indices], kind="stable")]
            batches += [indices[i:i + self.size] for i in range(0, len(indices), self.size)]
        for b in rng.permutation(len(batches)):
            x, mask = self._batch(X, batches[b])
            yield batches[b], x, mask

    def predict(self, X: Sequence) -> Iterator:
        """Yield ``(indices, x, mask)``; the caller writes each batch's outputs at ``indices``."""
        order = np.argsort([len(x) for x in X], kind="stable")
        for start in range(0, len(order), self.size):
            indices = order[start:start + self.size]
            x, mask = self._batch(X, indices)
            yield indices, x, mask

