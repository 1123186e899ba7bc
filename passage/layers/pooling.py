"""Pooling over time: a sequence of activations becomes one row per sequence."""
from __future__ import annotations

from passage.backend import T
from passage.layers.base import Layer

__all__ = ["Pooling"]

MODES = ("max", "mean", "last")


class Pooling(Layer):
    """Summarise ``(time, batch, features)`` activations over time, padding excluded, into
    ``(batch, features * len(modes))``: each of ``modes`` in order, concatenated.

    - ``'max'``: each feature's largest value over the real steps (a sequence with none gives 0);
    - ``'mean'``: each feature's mean over the real steps (0 for an empty sequence);
    - ``'last'``: the activations at the last real step (for a forward recurrent layer below, its
      summary state; for a Bidirectional one, the forward summary next to the backward state
      after reading only the last token).

    Place it after a recurrent layer with ``seq_output=True`` (or directly after the input layer,
    for a bag of word vectors); the model then predicts one row per sequence. No parameters.
    """

    def __init__(self, modes=("max", "mean")):
        super().__init__()
        modes = (modes,) if isinstance(modes, str) else tuple(modes)
        unknown = [m for m in modes if m not in MODES]
        if not modes or unknown or len(set(modes)) != len(modes):
            raise ValueError(f"Pooling modes are distinct names among {MODES}, got {modes!r}")
        self.modes = modes
        self.n_out = None  # known from the input's width: param_specs

    def param_specs(self, n_in):
        self.n_out = n_in * len(self.modes)  # no parameters; the width follows the input
        return []

    def output(self, x, mask, train, masks):
        m = mask[:, :, None]  # (T, B, 1)
        count = m.sum(axis=0)  # (B, 1): real steps per sequence
        pooled = []
        for mode in self.modes:
            if mode == "max":
                lowest = T.min(x) - 1.0  # below every real value: padding never wins
                best = T.max(m * x + (1.0 - m) * lowest, axis=0)
                pooled.append(T.switch(count > 0, best, 0.0))
            elif mode == "mean":
                pooled.append((m * x).sum(axis=0) / T.maximum(count, 1.0))
            else:  # the step before the first padded one; right padding puts it at count - 1
                last = T.maximum(count[:, 0] - 1, 0).astype("int32")  # (B,)
                pooled.append(x[last, T.arange(x.shape[1])] * T.minimum(count, 1.0))
        return pooled[0] if len(pooled) == 1 else T.concatenate(pooled, axis=-1)

    def get_config(self):
        return {"modes": list(self.modes)}
