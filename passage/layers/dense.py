"""The fully connected layer."""
from __future__ import annotations

from passage import activations, backend, inits
from passage.layers.base import Layer, Param, init_name

__all__ = ["Dense"]


class Dense(Layer):
    """Fully connected: ``act(x W + b)`` on ``(batch, n_in)``, or at every time step on
    ``(time, batch, n_in)`` (below a recurrent layer as a "deep input", or after a recurrent layer
    with ``seq_output=True`` for one output per token). Parameters ``W`` (n_in, size), ``b`` (size,).
    A maxout activation pairs neighbouring columns, so the layer outputs ``size // 2`` (as in 2015)."""

    def __init__(self, size: int = 256, activation="rectify", init="orthogonal", p_drop: float = 0.0,
                 weights=None):
        super().__init__(weights=weights, p_drop=p_drop)
        self.size, self.init = size, init
        self.activation = activations.get(activation)
        self.n_out = size
        if activations.halves_width(self.activation):
            if size % 2:
                raise ValueError(f"a maxout Dense layer pairs its columns, so its size must be even, got {size}")
            self.n_out = size // 2

    def param_specs(self, n_in):
        return [Param("W", (n_in, self.size), self.init), Param("b", (self.size,), inits.Constant(0.0))]

    def output(self, x, mask, train, masks):
        x = self.dropout(x, train, masks)
        return self.activation(backend.contract(x, self.W, [x.ndim - 1], [0]) + self.b)  # (..., size)

    def get_config(self):
        return {"size": self.size, "activation": activations.name_of(self.activation),
                "init": init_name(self.init), "p_drop": self.p_drop}
