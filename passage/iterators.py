"""Minibatches of variable-length sequences: padded, masked, time-major (numpy only).

The talk's :class:`SortedPadded` scheme (the default), refined: each batch holds sequences of similar
length (drawn at random from one length bucket; the few left over sorted within chunks of a few
batches), is padded only to a bucketed length of its longest sequence, and the batches are served
in random order. Prediction sorts everything by length and puts the outputs back in input order.
:class:`Padded` keeps the data's order (shuffled or not) and :class:`Linear` is the same for
equal-length real-valued sequences, as in 2015: ``RNN(..., iterator='linear')``.

Each iterator gives the model ``(indices, x, mask)`` batches (:meth:`train`, :meth:`predict`); the
2015 methods ``iterX`` and ``iterXY`` still give that library's arrays (see :meth:`Iterator.iterX`).
"""
from __future__ import annotations

import copy
from typing import Iterator as Iterating, Sequence

import numpy as np

from passage.naming import Registry

__all__ = ["bucket_length", "pad", "Iterator", "SortedPadded", "Padded", "Linear", "get"]

PAD = 0


def bucket_length(length: int, minimum: int = 8) -> int:
    """Round a batch's length up to the next of 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, ... (four steps
    per doubling: 2^k, 1.25, 1.5 and 1.75 * 2^k).

    Few distinct lengths mean few compiled shapes (XLA compiles once per shape, and caches it on
    disk), and at most a quarter of a batch is padding beyond its longest sequence.
    """
    size = minimum
    while size < length:
        size += max(1, (1 << (size.bit_length() - 1)) // 4)  # a quarter of the power of two at or below
    return size


def _longest(X: Sequence) -> int:
    return max(1, max((len(x) for x in X), default=0))


def pad(sequences: Sequence, length: int, feature_size: int | None = None,
        rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad ``sequences`` to ``length`` steps (and with empty sequences to ``rows``, if more).

    Returns ``(x, mask)``: x is ``(length, batch)`` int32 ids, or ``(length, batch, feature_size)``
    floats when ``feature_size`` is given; mask is ``(length, batch)`` float32, 1 on real steps.
    """
    batch = max(len(sequences), rows or 0)
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


def _checked_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {size!r}")
    return int(size)


class Iterator:
    """Batches for training (:meth:`train`) and prediction (:meth:`predict`); subclasses choose which
    sequences share a batch (:meth:`_training_order`, :meth:`_prediction_order`).

    The 2015 signature: ``size`` is the batch size (``fit``'s and ``predict``'s default), ``shuffle``
    whether training visits the data in a random order, ``x_dtype`` / ``y_dtype`` cast the arrays of
    :meth:`iterX` / :meth:`iterXY` (a dtype or a function; by default int32 ids or float32 features,
    and float32 labels: a model chooses its own dtypes from its input layer and cost).
    """

    def __init__(self, size: int = 64, shuffle: bool = True, x_dtype=None, y_dtype=None,
                 feature_size: int | None = None):
        self.size, self.shuffle, self.x_dtype, self.y_dtype = _checked_size(size), shuffle, x_dtype, y_dtype
        self.feature_size = feature_size

    def resized(self, size: int, feature_size: int | None) -> "Iterator":
        """A copy that makes batches of ``size`` sequences of ``feature_size`` features (None: ids)."""
        other = copy.copy(self)
        other.size, other.feature_size = _checked_size(size), feature_size
        return other

    @staticmethod
    def _planned(X: Sequence, order: list[np.ndarray], cap: int | None) -> list[tuple[np.ndarray, int]]:
        """``(indices, length)`` per batch of ``order``: the bucket of its longest sequence, but not
        beyond ``cap``, the longest sequence in ``X`` (texts cut to 400 ids pad to 400, not 512)."""
        lengths = (bucket_length(max((len(X[i]) for i in indices), default=0)) for indices in order)
        return [(indices, length if cap is None else min(length, cap)) for indices, length in zip(order, lengths)]

    def _chunks(self, order: np.ndarray) -> list[np.ndarray]:
        return [order[i:i + self.size] for i in range(0, len(order), self.size)]

    def _training_order(self, X: Sequence, rng) -> list[np.ndarray]:
        order = rng.permutation(len(X)) if self.shuffle else np.arange(len(X))
        return self._chunks(order)

    def _prediction_order(self, X: Sequence) -> list[np.ndarray]:
        return self._chunks(np.arange(len(X)))

    def training_plan(self, X: Sequence, rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
        """One pass of training batches, each ``(indices, padded length)``, covering every sample
        once in the order :meth:`batches` serves them (shuffled with ``rng``)."""
        return self._planned(X, self._training_order(X, rng), _longest(X))

    def prediction_plan(self, X: Sequence) -> list[tuple[np.ndarray, int]]:
        """The prediction batches of ``X``, each ``(indices, padded length)``."""
        # a call of one batch keeps to the buckets: calls one sequence at a time share their shapes
        return self._planned(X, self._prediction_order(X), _longest(X) if len(X) > self.size else None)

    def prediction_rows(self, plan: list[tuple[np.ndarray, int]]) -> int:
        """The rows every prediction batch of ``plan`` is padded to (with empty sequences, whose
        outputs are dropped), so that few shapes compile: the batch size when there are several
        batches (the last, smaller one fills up), else the next power of two (calls of a few
        sequences share a few shapes), at most the batch size."""
        if len(plan) != 1:
            return self.size
        return min(self.size, 1 << (len(plan[0][0]) - 1).bit_length())

    def batches(self, X: Sequence, plan: list[tuple[np.ndarray, int]], rows: int | None = None) -> Iterating:
        """Yield the ``(indices, x, mask)`` batches of ``plan``, each of at least ``rows`` sequences
        (empty ones after those of ``indices``); the caller takes each batch's labels, or writes
        its outputs, at ``indices``."""
        for indices, length in plan:
            x, mask = pad([X[i] for i in indices], length, self.feature_size, rows)
            yield indices, x, mask

    def train(self, X: Sequence, rng: np.random.Generator) -> Iterating:
        """Yield one pass of ``(indices, x, mask)`` training batches (see :meth:`training_plan`)."""
        yield from self.batches(X, self.training_plan(X, rng))

    def predict(self, X: Sequence) -> Iterating:
        """Yield the ``(indices, x, mask)`` prediction batches of ``X``."""
        yield from self.batches(X, self.prediction_plan(X))

    # ---- the 2015 interface ---------------------------------------------------------------------

    def iterX(self, X):
        """The 2015 prediction batches: time-major arrays padded at the *start* to their longest
        sequence (the 2015 models had no mask). :class:`SortedPadded` yields ``(x, indices)``."""
        for indices in self._prediction_order(X):
            yield self._cast(self._padded_2015([X[i] for i in indices]), self.x_dtype, self._x_default())

    def iterXY(self, X, Y):
        """The 2015 training batches ``(x, y)``, ``x`` as in :meth:`iterX`; shuffled with numpy's
        global random state, as then."""
        Y = np.asarray(Y)
        for indices in self._training_order(X, np.random):
            yield (self._cast(self._padded_2015([X[i] for i in indices]), self.x_dtype, self._x_default()),
                   self._cast(Y[indices], self.y_dtype, np.float32))

    def _x_default(self):
        return np.int32 if self.feature_size is None else np.float32

    @staticmethod
    def _padded_2015(sequences) -> np.ndarray:
        sequences = [np.asarray(s) for s in sequences]
        longest = max(len(s) for s in sequences)
        padded = [np.concatenate([np.zeros((longest - len(s),) + s.shape[1:], s.dtype), s]) for s in sequences]
        return np.swapaxes(np.stack(padded), 0, 1)  # (time, batch, ...)

    @staticmethod
    def _cast(array, dtype, default):
        dtype = default if dtype is None else dtype
        return dtype(array) if callable(dtype) and not isinstance(dtype, type) else np.asarray(array, dtype)


class SortedPadded(Iterator):
    """The default: sequences of similar length share a batch. Training batches are drawn at random
    from the sequences of one length bucket (:func:`bucket_length`), so a batch pads only to its
    bucket; the sequences left over when a bucket has no full batch more are mixed, and
    ``chunk_batches`` batches' worth of them at a time are sorted by length together (more: less
    padding, less randomness; on a small dataset this is most batches). The batches are served in
    random order (also with ``shuffle=False``, as in 2015, which then only keeps the data's order
    before grouping)."""

    def __init__(self, size: int = 64, shuffle: bool = True, x_dtype=None, y_dtype=None,
                 feature_size: int | None = None, chunk_batches: int = 20):
        super().__init__(size, shuffle, x_dtype, y_dtype, feature_size)
        self.chunk_batches = chunk_batches

    def _training_order(self, X, rng):
        order = rng.permutation(len(X)) if self.shuffle else np.arange(len(X))
        length_of = np.array([len(x) for x in X], dtype=np.int64)  # by sample index
        bucket_of = {n: bucket_length(n) for n in np.unique(length_of).tolist()}
        buckets = np.array([bucket_of[n] for n in length_of[order].tolist()], dtype=np.int64)  # in ``order``
        batches, left_over = [], []
        met, first = np.unique(buckets, return_index=True)
        for bucket in met[np.argsort(first)]:  # in the order ``order`` meets them
            members = order[buckets == bucket]  # in ``order``: at random when shuffling
            full = len(members) - len(members) % self.size
            batches += self._chunks(members[:full])
            left_over.append(members[full:])
        left_over = np.concatenate(left_over) if left_over else order
        left_over = left_over[rng.permutation(len(left_over))] if self.shuffle else np.sort(left_over)
        chunk = self.size * self.chunk_batches
        for start in range(0, len(left_over), chunk):
            indices = left_over[start:start + chunk]
            batches += self._chunks(indices[np.argsort(length_of[indices], kind="stable")])
        return [batches[b] for b in rng.permutation(len(batches))]

    def _prediction_order(self, X):
        return self._chunks(np.argsort([len(x) for x in X], kind="stable"))

    def iterX(self, X):
        for x, indices in zip(super().iterX(X), self._prediction_order(X)):
            yield x, indices


class Padded(Iterator):
    """Batches of consecutive sequences (after shuffling, when ``shuffle``), each padded to its
    longest: the data's own order, no sorting."""


class Linear(Padded):
    """For real-valued sequences of equal length, ``(examples, time, features)`` (the 2015
    ``Generic`` input): batches of consecutive examples, as :class:`Padded`."""


REGISTRY = Registry("iterator", {cls.__name__: cls for cls in (SortedPadded, Padded, Linear)})


def get(identifier) -> Iterator:
    """An iterator from a name (case-insensitive, default settings), a class, or an instance."""
    if isinstance(identifier, Iterator):
        return identifier
    return REGISTRY.resolve(identifier)()
