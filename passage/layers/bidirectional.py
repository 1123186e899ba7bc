"""Reading each sequence both ways: the Bidirectional wrapper."""
from __future__ import annotations

import copy

from passage.backend import T
from passage.layers.base import Layer
from passage.layers.recurrent import Recurrent

__all__ = ["Bidirectional"]

MERGES = ("concat", "sum", "mean")


class Bidirectional(Layer):
    """Two copies of a recurrent layer, one reading each sequence forward and one backward, merged.

    The copies have weights of their own (named ``forward/<name>`` and ``backward/<name>``). The
    backward copy starts at each sequence's last real token, never at padding. With the wrapped
    layer's ``seq_output=True`` the output at step ``t`` merges the forward state after ``x_1..x_t``
    with the backward state after ``x_last..x_t``: ``(time, batch, n_out)``. With ``seq_output=False``
    it merges the forward state after the whole sequence with the backward state after reading
    back to the first token: ``(batch, n_out)``.

    ``merge``: ``'concat'`` (``n_out = 2 * size``, forward first), ``'sum'`` or ``'mean'`` (``n_out = size``).
    """

    is_recurrent = True

    def __init__(self, layer: Recurrent, merge: str = "concat", weights=None):
        super().__init__(weights=weights)
        if not isinstance(layer, Recurrent):
            raise ValueError(f"Bidirectional wraps a recurrent layer (SimpleRecurrent, GatedRecurrent, "
                             f"LstmRecurrent or a subclass of Recurrent), got {type(layer).__name__}")
        if merge not in MERGES:
            raise ValueError(f"merge must be one of {MERGES}, got {merge!r}")
        if layer.built:
            raise ValueError("Bidirectional needs a new layer, not one already built into a model")
        if layer.direction != "forward":
            raise ValueError("Bidirectional makes its own backward copy: give it a layer with direction='forward'")
        self.merge = merge
        self.forward = layer
        self.backward = copy.deepcopy(layer)
        self.backward.direction = "backward"
        self.size = layer.size
        self.n_out = 2 * layer.size if merge == "concat" else layer.size

    @property
    def seq_output(self) -> bool:
        return self.forward.seq_output

    @property
    def backward_features(self) -> int:
        return self.size if self.merge == "concat" else 0  # 'sum' and 'mean' mix the two directions

    def _copies(self):
        return (("forward", self.forward), ("backward", self.backward))

    def param_specs(self, n_in):
        return [spec._replace(name=f"{prefix}/{spec.name}")
                for prefix, layer in self._copies() for spec in layer.param_specs(n_in)]

    def build(self, n_in, rng):
        given = self._given_weights(self.param_specs(n_in))  # checked before anything is allocated
        self.n_in = n_in
        for prefix, layer in self._copies():
            start = prefix + "/"
            layer._initial_weights = {name[len(start):]: value for name, value in given.items()
                                      if name.startswith(start)} or None
            layer.build(n_in, rng)
        self.params = self.forward.params + self.backward.params
        self.built = True

    @property
    def param_names(self) -> list[str]:
        return [f"{prefix}/{name}" for prefix, layer in self._copies() for name in layer.param_names]

    def output(self, x, mask, train, masks):
        forward = self.forward.output(x, mask, train, masks)    # (T, B, size) or (B, size)
        backward = self.backward.output(x, mask, train, masks)  # the same, in time order
        if self.merge == "concat":
            return T.concatenate([forward, backward], axis=-1)  # (..., 2*size)
        total = forward + backward
        return total if self.merge == "sum" else 0.5 * total

    def get_config(self):
        return {"layer": {"class": type(self.forward).__name__, "config": self.forward.get_config()},
                "merge": self.merge}

    @classmethod
    def from_config(cls, config: dict) -> "Bidirectional":
        from passage.layers import get  # the registry of all layers, which includes this one

        config = dict(config)
        inner = config.pop("layer")
        return cls(get(inner["class"], inner["config"]), **config)
