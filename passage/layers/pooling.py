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
    - ``'last'``: each reader's summary of the whole sequence: for features read forward, the
      activations at the last real step; for features read backward (``backward``), those at the
      first step, where a backward reader has read everything. After a Bidirectional layer this
      is the forward state after the last word beside the backward state after the first, as
      the layer gives with ``seq_output=False``.

    ``backward``: how many of the input's last features come from a layer reading backward in time.
    None (the default): the model sets it from the layer below at build, the backward half of a
    Bidirectional layer with ``merge='concat'`` or all of a recurrent layer with
    ``direction='backward'`` (a 'sum' or 'mean' merge mixes the directions: 0). Files of format
    version 2, saved before this setting existed, read as 0 (:func:`passage.compat.upgraded`).

    Place it after a recurrent layer with ``seq_output=True`` (or directly after the input layer,
    for a bag of word vectors); the model then predicts one row per sequence. No parameters.
    """

    def __init__(self, modes=("max", "mean"), backward: int | None = None):
        super().__init__()
        modes = (modes,) if isinstance(modes, str) else tuple(modes)
        unknown = [m for m in modes if m not in MODES]
        if not modes or unknown or len(set(modes)) != len(modes):
            raise ValueError(f"Pooling modes are distinct names among {MODES}, got {modes!r}")
        if backward is not None and (not isinstance(backward, int) or backward < 0):
            raise ValueError(f"backward is a number of features (an int >= 0) or None, got {backward!r}")
        self.modes = modes
        self.backward = backward
        self.n_out = None  # known from the input's width: param_specs

    def connect(self, below: Layer) -> None:
        if self.backward is None:
            self.backward = below.backward_features

    def param_specs(self, n_in):
        if self.backward is not None and self.backward > n_in:
            raise ValueError(f"Pooling(backward={self.backward}) reads more backward features than its input's {n_in}")
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
            else:
                pooled.append(self._last(x, count))
        return pooled[0] if len(pooled) == 1 else T.concatenate(pooled, axis=-1)

    def _last(self, x, count):
        """Forward features at the last real step (right padding puts it at count - 1), backward
        ones at the first; zeros for an empty sequence."""
        last = T.maximum(count[:, 0] - 1, 0).astype("int32")  # (B,)
        ends = x[last, T.arange(x.shape[1])]  # (B, features)
        if self.backward:
            split = self.n_in - self.backward
            ends = T.concatenate([ends[:, :split], x[0, :, split:]], axis=-1)
        return ends * T.minimum(count, 1.0)

    def get_config(self):
        return {"modes": list(self.modes), "backward": self.backward}
