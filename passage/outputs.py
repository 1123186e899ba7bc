"""What a model outputs: one row per sequence, or one row per token. The one place that knows.

A model is *per sequence* when its last recurrent layer has ``seq_output=False``: labels are one
row per input sequence and ``predict`` returns an array ``(n, n_out)``. It is *per token* when the
last recurrent layer has ``seq_output=True`` (the Dense layers after it apply at every step):
labels are one sequence per input, as long as it, and ``predict`` returns a list of
``(len(x), n_out)`` arrays. Per-token costs and metrics count real tokens only, never padding.

Everything that depends on the kind goes through an :class:`Output`: checking labels, building a
batch's targets, the masked cost, collecting predictions, and the rows that metrics score.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from passage import backend, costs
from passage.backend import T
from passage.data import as_list, label_rows

__all__ = ["Output", "PerSequence", "PerToken", "for_model"]


class Output:
    """The shape of a model's output and of its labels."""

    per_token: bool
    batch_axis: int  # the axis of the targets (target_input) that runs along the batch's sequences

    def __init__(self, n_out: int, cost):
        self.n_out, self.cost = n_out, cost

    def targets(self, Y, X: Sequence[np.ndarray], name: str = "trY", x_name: str = "trX"):
        """``Y`` checked against the inputs ``X`` and the output layer, in the model's label form."""
        raise NotImplementedError

    def subset(self, Y, indices):
        """The labels of the sequences at ``indices``."""
        raise NotImplementedError

    def target_input(self):
        """The symbolic targets of one batch (time and batch axes symbolic)."""
        raise NotImplementedError

    def batch_targets(self, Y, indices, length: int) -> np.ndarray:
        """The targets of the sequences at ``indices``, padded to ``length`` steps."""
        raise NotImplementedError

    def batch_cost(self, Y, P, mask):
        """The symbolic training cost of one batch: predictions ``P`` against targets ``Y``."""
        raise NotImplementedError

    def batch_loss(self, Y, P, mask):
        """The symbolic cost of one batch summed over its rows, and how many rows it counts."""
        raise NotImplementedError

    def collect(self, n: int, batches) -> list | np.ndarray:
        """All predictions, in input order, from ``(indices, outputs, mask)`` batches (a batch may
        hold empty rows after those of ``indices``: their outputs are dropped)."""
        raise NotImplementedError

    def rows(self, Y, P) -> tuple[np.ndarray, np.ndarray]:
        """Targets and predictions as matching rows for metrics: real tokens only."""
        raise NotImplementedError


class PerSequence(Output):
    """One label row per sequence; the cost is ``cost(Y, P)``, any callable cost works."""

    per_token = False
    batch_axis = 0  # (B, n_out)

    def targets(self, Y, X, name="trY", x_name="trX"):
        rows = as_list(Y, name)
        if len(rows) != len(X):
            raise ValueError(f"{name} has {len(rows)} rows but {x_name} has {len(X)} sequences; they must match")
        shapes = {np.shape(row) for row in rows}
        ragged = len(shapes) > 1
        # rows of one width that is not the output's, but is every input's length: labels per token
        widths = {shape[0] for shape in shapes if len(shape) == 1}
        per_token = widths and widths != {self.n_out} and all(len(x) in widths for x in X)
        if ragged or per_token:
            raise ValueError(f"{name} holds a sequence of labels per input (one per token?), but this model "
                             "outputs one row per sequence: give one label (row) per sequence, or for one "
                             "output per token set seq_output=True on the last recurrent layer")
        return label_rows(np.asarray(rows), self.n_out, self.cost, name)

    def subset(self, Y, indices):
        return Y[indices]

    def target_input(self):
        return backend.tensor_input("Y", backend.floatX(), (None, self.n_out))  # (B, n_out)

    def batch_targets(self, Y, indices, length):
        return Y[indices]  # (B, n_out)

    def batch_cost(self, Y, P, mask):
        return self.cost(Y, P)

    def batch_loss(self, Y, P, mask):
        rows = T.cast(P.shape[0], P.dtype)
        return self.cost(Y, P) * rows, rows  # a cost is a mean over rows

    def collect(self, n, batches):
        outputs = np.zeros((n, self.n_out), dtype=backend.floatX())
        for indices, P, _ in batches:
            outputs[indices] = P[:len(indices)]  # P: (B, n_out)
        return outputs

    def rows(self, Y, P):
        return Y, P


class PerToken(Output):
    """One label per token. Targets are class ids ``(length,)`` for a softmax with ``'cce'``, else
    rows ``(length, n_out)``; the cost is the mean of ``cost.rows`` over real tokens."""

    per_token = True
    batch_axis = 1  # (T, B) or (T, B, n_out)

    def __init__(self, n_out, cost):
        if not isinstance(cost, costs.Cost):
            raise ValueError("a per-token model needs a cost with one value per token: one of 'bce', 'cce', "
                             "'mse', 'mae', 'hinge', 'squared_hinge', or passage.costs.Cost(rows_function)")
        super().__init__(n_out, cost)
        self.class_ids = cost is costs.cce and n_out > 1

    def targets(self, Y, X, name="trY", x_name="trX"):
        if isinstance(Y, np.ndarray) and Y.dtype != object:
            labels = list(Y)  # (n, T) or (n, T, k): every sequence has one length
        else:
            labels = [np.asarray(y) for y in as_list(Y, name)]
        if len(labels) != len(X):
            raise ValueError(f"{name} has {len(labels)} label sequences but {x_name} has {len(X)} sequences; "
                             "they must match")
        for i, (y, x) in enumerate(zip(labels, X)):
            if np.ndim(y) == 0:
                raise ValueError(f"{name} holds one label per sequence, but this model outputs one per token "
                                 "(its last recurrent layer has seq_output=True): give each sequence one label "
                                 "per token, or set seq_output=False on the last recurrent layer")
            if len(y) != len(x):
                raise ValueError(f"{name}[{i}] has {len(y)} labels but {x_name}[{i}] has {len(x)} tokens; "
                                 "give one label per token")
        lengths = np.cumsum([0] + [len(y) for y in labels])
        try:
            flat = label_rows(self._stack(labels), self.n_out, self.cost, name, self.class_ids)
        except ValueError:
            for i, y in enumerate(labels):  # name the first sequence at fault
                label_rows(y, self.n_out, self.cost, f"{name}[{i}]", self.class_ids)
            raise
        return [flat[start:end] for start, end in zip(lengths[:-1], lengths[1:])]

    def _stack(self, labels):
        non_empty = [y for y in labels if len(y)]
        if not non_empty:
            shape = (0,) if self.class_ids or self.n_out == 1 else (0, self.n_out)
            return np.zeros(shape)
        if len({y.shape[1:] for y in non_empty}) > 1:
            raise ValueError("label sequences have different shapes per token; give every token the same "
                             f"kind of label (a class id, or a row of {self.n_out})")
        return np.concatenate(non_empty)

    def subset(self, Y, indices):
        return [Y[i] for i in indices]

    def target_input(self):
        if self.class_ids:
            return backend.tensor_input("Y", "int32", (None, None))  # (T, B) class ids
        return backend.tensor_input("Y", backend.floatX(), (None, None, self.n_out))  # (T, B, n_out)

    def batch_targets(self, Y, indices, length):
        shape = (length, len(indices)) if self.class_ids else (length, len(indices), self.n_out)
        targets = np.zeros(shape, dtype=np.int32 if self.class_ids else backend.floatX())
        for column, i in enumerate(indices):
            targets[:len(Y[i]), column] = Y[i]  # padded steps keep 0: the mask drops them
        return targets

    def batch_cost(self, Y, P, mask):
        total, tokens = self.batch_loss(Y, P, mask)
        return total / T.maximum(tokens, 1.0)

    def batch_loss(self, Y, P, mask):
        return (self.cost.rows(Y, P) * mask).sum(), mask.sum()  # rows: (T, B)

    def collect(self, n, batches):
        outputs = [None] * n
        for indices, P, mask in batches:  # P: (T, B, n_out)
            lengths = mask.sum(axis=0).astype(int)
            for column, i in enumerate(indices):
                outputs[i] = P[:lengths[column], column]
        return outputs

    def rows(self, Y, P):
        return np.concatenate(Y), np.concatenate(P)  # (tokens,) ids or (tokens, n_out); (tokens, n_out)


def for_model(per_token: bool, n_out: int, cost) -> Output:
    return PerToken(n_out, cost) if per_token else PerSequence(n_out, cost)
