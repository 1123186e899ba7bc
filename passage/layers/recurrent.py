"""Recurrent layers: SimpleRecurrent, GatedRecurrent, LstmRecurrent on a shared frame (:class:`Recurrent`).

They read ``(time, batch, n_in)`` activations and the padding ``mask`` ``(time, batch)``; with
``seq_output=True`` they return every step's state ``(time, batch, size)``, else the state after
the whole sequence ``(batch, size)``.
"""
from __future__ import annotations

import numpy as np

from passage import activations, backend, inits
from passage.backend import T
from passage.layers.base import Layer, Param, init_name

__all__ = ["Recurrent", "SimpleRecurrent", "GatedRecurrent", "LstmRecurrent", "summed"]


def summed(a, b):
    """``sum_t a_t^T b_t`` over the steps and sequences of ``a`` (steps, batch, m) and ``b`` (steps,
    batch, n): (m, n), as a weight's gradient over a whole sequence is."""
    return backend.contract(a, b, [0, 1], [0, 1])


class Recurrent(Layer):
    """Shared frame of the recurrent layers.

    All time steps' input projections ``x W`` are one matrix product before the loop; the loop
    (``scan``) adds the bias and runs :meth:`step`, which adds the hidden-to-hidden products. At a padding step
    the states are carried over unchanged: ``s' = m * step(x, s) + (1 - m) * s``, so padding never
    changes a result. ``init`` initialises the input weights W, ``inner_init`` (default: the same)
    the recurrent weights U, e.g. ``inner_init='identity'`` with ``activation='rectify'`` (Le et
    al., 2015). ``direction='backward'`` reads the sequence from its end; with
    ``seq_output=True`` the states are returned in the original time order either way.

    Training: the gradient is written out (:meth:`step_backward`) rather than derived through the
    loop. The forward loop keeps each step's pre-activations, so the backward loop never recomputes
    a recurrent product, and the recurrent weights' gradients are one large matrix product after
    it (:meth:`weight_gradients`) instead of a small one per step; a layer that writes them says so
    with ``written_gradient = True``. A new recurrent layer may define only :meth:`step` and leave
    ``written_gradient = False``: PyTensor then derives the gradient through the loop (correct,
    slower). ``recurrent_weights`` names the parameters :meth:`step` receives, in order.
    ``truncate_gradient=k`` sends gradients back through the last ``k`` steps only (with a written
    :meth:`step_backward`).

    Positional arguments follow the 2015 library's order, so its programs mean what they meant:
    ``(size, activation, gate_activation, init, truncate_gradient, seq_output, p_drop, weights)``
    (SimpleRecurrent has no ``gate_activation``); ``direction`` and ``inner_init`` come after.
    """

    is_recurrent = True
    n_gates = 1   # blocks of ``size`` columns in W and b
    n_states = 1  # carried states; the first one is the output h
    recurrent_weights: tuple[str, ...] = ()  # the parameters step() receives as U, in this order
    written_gradient = False  # True where step_backward and weight_gradients are written out

    def __init__(self, size: int = 256, activation="tanh", gate_activation="steeper_sigmoid",
                 init="orthogonal", truncate_gradient: int = -1, seq_output: bool = False, p_drop: float = 0.0,
                 weights=None, direction: str = "forward", inner_init=None):
        super().__init__(weights=weights, p_drop=p_drop)
        if direction not in ("forward", "backward"):
            raise ValueError(f"direction must be 'forward' or 'backward', got {direction!r}")
        if truncate_gradient != -1 and truncate_gradient < 1:
            raise ValueError(f"truncate_gradient must be -1 (no truncation) or a number of steps >= 1, "
                             f"got {truncate_gradient}")
        self.size, self.init = size, init
        self.inner_init = init if inner_init is None else inner_init
        self.activation = activations.get(activation)
        self.gate_activation = activations.get(gate_activation)
        if activations.halves_width(self.activation) or activations.halves_width(self.gate_activation):
            raise ValueError(f"{type(self).__name__} cannot use a maxout activation: its state keeps {size} "
                             "units from step to step; use maxout in a Dense layer")
        self.seq_output, self.truncate_gradient, self.direction = seq_output, truncate_gradient, direction
        self.n_out = size

    @property
    def backward_features(self) -> int:
        return self.n_out if self.direction == "backward" else 0

    def param_specs(self, n_in):
        n_cols = self.n_gates * self.size
        return [Param("W", (n_in, n_cols), self.init, self.n_gates), *self.recurrent_param_specs(),
                Param("b", (n_cols,), self.bias_init())]

    def build(self, n_in, rng):
        super().build(n_in, rng)
        others = [name for name in self.param_names if name not in ("W", "b", *self.recurrent_weights)]
        if others and self.written_gradient:
            raise ValueError(f"{type(self).__name__} has parameters {others} that are neither its input weights "
                             f"(W, b) nor among its recurrent_weights {self.recurrent_weights}, so its written "
                             "gradient would miss them: add them to recurrent_weights (and their gradients to "
                             "step_backward / weight_gradients), or set written_gradient = False")

    def bias_init(self):
        return inits.Constant(0.0)

    def recurrent_param_specs(self) -> list[Param]:
        """The recurrent weights, named as in ``recurrent_weights``."""
        raise NotImplementedError

    def step(self, x_t, states, U):
        """One time step, unmasked: projected input ``x_t`` (batch, n_gates*size), the states
        (batch, size) each and the recurrent weights ``U`` (``recurrent_weights``, in order) -> (new
        states, what :meth:`step_backward` needs: the pre-activations, ``x_t`` plus the recurrent
        products laid out like ``x_t``, and any more columns the layer wants kept)."""
        raise NotImplementedError

    def step_backward(self, pre, states, U, d_new):
        """The gradient of :meth:`step`: from its pre-activations, the states it started from and the
        gradients ``d_new`` of its new states -> (gradient of ``pre``, gradients of ``states``)."""
        raise NotImplementedError

    def weight_gradients(self, pre, h, d_pre):
        """Gradients of the recurrent weights, summed over all steps at once (:func:`summed`): ``pre``
        and ``d_pre`` (steps, batch, n_gates*size), ``h`` (steps, batch, size) the output state each step
        started from."""
        raise NotImplementedError

    def _recurrent_params(self) -> list:
        """The shared variables :meth:`step` receives as ``U``, in ``recurrent_weights`` order."""
        return [getattr(self, name) for name in self.recurrent_weights]

    def step_once(self, x, states):
        """One step from outside the loop, as generation takes it: new input ``x`` (batch, n_in) and
        the states (batch, size) each -> (output h, new states). No dropout, no mask."""
        new_states, _ = self.step(backend.dot(x, self.W) + self.b, states, self._recurrent_params())
        return new_states[0], new_states

    def output(self, x, mask, train, masks):
        x = self.dropout(x, train, masks)
        if self.direction == "backward":
            x, mask = x[::-1], mask[::-1]  # the loop walks from the end
        inputs = [x, mask, self.W, self.b, *self._recurrent_params()]
        if not self.written_gradient:  # PyTensor derives the gradient through the loop
            if self.truncate_gradient != -1:  # PyTensor's own truncated scan gradient fails in JAX mode
                raise ValueError(f"{type(self).__name__} has no step_backward, which truncate_gradient needs")
            h = self._loop(*inputs)[0]  # (T, B, size)
        else:
            h = backend.custom_gradient(self._loop, self._loop_gradient, inputs)[0]
        if not self.seq_output:
            return h[-1]  # (B, size): the state after the whole sequence
        return h[::-1] if self.direction == "backward" else h

    def _loop(self, x, mask, W, b, *U):
        """The forward loop -> the states after each step ((T, B, size) each), then the
        pre-activations. The bias is added inside the loop, where it joins the step's own sums."""
        projected = backend.contract(x, W, [2], [0])  # (T, B, n_gates*size)

        def masked_step(x_t, m_t, *states):
            new_states, pre = self.step(x_t + b, states, U)
            m = m_t[:, None]  # (B, 1): broadcast over features
            return [m * new + (1.0 - m) * old for new, old in zip(new_states, states)] + [pre]

        zeros = T.zeros((projected.shape[1], self.size), dtype=projected.dtype)  # (B, size)
        return backend.scan(masked_step, sequences=[projected, mask],
                            outputs_info=[zeros] * self.n_states + [None])

    def _loop_gradient(self, inputs, outputs, cotangents):
        """The backward loop, last step first, then every weight's gradient. The loop reads
        time-reversed copies of what it needs and leaves its gradients in that order too; the sums
        over all steps (the weights' gradients) take them in that order, so only the input's gradient,
        ``n_in`` wide, is turned back into time order (not the ``n_gates*size`` wide gradient of the
        pre-activations)."""
        x, mask, W, b, *U = inputs
        *states, pre = outputs
        d_h = cotangents[0]  # (T, B, size): what the outputs h receive from above
        previous = [T.concatenate([T.zeros_like(s[:1]), s[:-1]]) for s in states]  # each step's start states
        k = self.truncate_gradient
        last = slice(None, None, -1) if k == -1 else slice(None, -k - 1, -1)  # the steps back-propagated, last first
        d_h, pre, mask, previous = d_h[last], pre[last], mask[last], [s[last] for s in previous]

        def step_back(d_h_t, pre_t, m_t, *rest):
            started, carried = rest[:self.n_states], rest[self.n_states:]
            d_states = [carried[0] + d_h_t, *carried[1:]]  # gradients of this step's (masked) states
            m = m_t[:, None]
            d_pre_t, d_started = self.step_backward(pre_t, started, U, [m * d for d in d_states])
            return [d + (1.0 - m) * d_kept for d, d_kept in zip(d_started, d_states)] + [d_pre_t]

        zeros = T.zeros_like(states[0][0])  # (B, size)
        d_pre = backend.scan(step_back, sequences=[d_h, pre, mask, *previous],
                             outputs_info=[zeros] * self.n_states + [None])[-1]  # (steps, B, n_gates*size), last first
        d_U = self.weight_gradients(pre, previous[0], d_pre)
        d_W = summed(x[last], d_pre)
        d_x = backend.contract(d_pre, W, [2], [1])[::-1]  # (steps, B, n_in), in time order
        if k != -1:  # no gradient reaches the steps before the last k
            d_x = T.concatenate([T.zeros_like(x[:-k]), d_x])
        return [d_x, None, d_W, d_pre.sum(axis=(0, 1)), *d_U]

    def get_config(self):
        return {"size": self.size, "activation": activations.name_of(self.activation),
                "gate_activation": activations.name_of(self.gate_activation), "init": init_name(self.init),
                "inner_init": init_name(self.inner_init),
                "seq_output": self.seq_output, "p_drop": self.p_drop,
                "truncate_gradient": self.truncate_gradient, "direction": self.direction}


class SimpleRecurrent(Recurrent):
    """Elman RNN: ``h' = act(x W + h U + b)``.

    Parameters: ``W`` (n_in, size), ``U`` (size, size), ``b`` (size,). ``gate_activation`` is unused
    (accepted by keyword, for configs). Positional order as in 2015: ``(size, activation, init,
    truncate_gradient, seq_output, p_drop, weights)``.
    """

    recurrent_weights = ("U",)
    written_gradient = True

    def __init__(self, size: int = 256, activation="tanh", init="orthogonal", truncate_gradient: int = -1,
                 seq_output: bool = False, p_drop: float = 0.0, weights=None, direction: str = "forward",
                 inner_init=None, gate_activation="steeper_sigmoid"):
        super().__init__(size=size, activation=activation, gate_activation=gate_activation, init=init,
                         truncate_gradient=truncate_gradient, seq_output=seq_output, p_drop=p_drop,
                         weights=weights, direction=direction, inner_init=inner_init)

    def recurrent_param_specs(self):
        return [Param("U", (self.size, self.size), self.inner_init)]

    def step(self, x_t, states, U):
        pre = x_t + backend.dot(states[0], U[0])
        return [self.activation(pre)], pre

    def step_backward(self, pre, states, U, d_new):
        d_pre = backend.vjp(self.activation(pre), pre, d_new[0])
        return d_pre, [backend.dot_transposed(d_pre, U[0])]

    def weight_gradients(self, pre, h, d_pre):
        return [summed(h, d_pre)]


class GatedRecurrent(Recurrent):
    """Gated recurrent unit (Cho et al., 2014), as in the talk and the 2015 library::

        z  = g(x Wz + h Uz + bz)              update gate
        r  = g(x Wr + h Ur + br)              reset gate
        h~ = act(x Wh + (r * h) Uh + bh)      candidate; the reset gate applies before Uh
        h' = z * h + (1 - z) * h~

    ``g`` is ``gate_activation`` (default steeper_sigmoid), ``act`` is ``activation`` (tanh).
    Parameters: ``W`` (n_in, 3*size) = [Wz | Wr | Wh]; ``U_zr`` (size, 2*size) = [Uz | Ur];
    ``U_h`` (size, size); ``b`` (3*size,) = [bz | br | bh].

    ``reset_after=True`` is the variant of cuDNN, PyTorch and Keras (a different model, not the
    2015 one): the reset gate multiplies the recurrent product instead of the state, so each step
    needs one product ``h U`` for all three blocks instead of two dependent ones (faster)::

        z  = g(x Wz + h Uz + bz)
        r  = g(x Wr + h Ur + br)
        h~ = act(x Wh + bh + r * (h Uh + b_Uh))
        h' = z * h + (1 - z) * h~

    Its parameters: ``W`` and ``b`` as above; ``U`` (size, 3*size) = [Uz | Ur | Uh]; ``b_Uh``
    (size,), the recurrent product's own bias inside the reset (PyTorch's ``b_hn``).
    """

    n_gates = 3

    recurrent_weights = ("U_zr", "U_h")
    written_gradient = True

    def __init__(self, size: int = 256, activation="tanh", gate_activation="steeper_sigmoid",
                 init="orthogonal", truncate_gradient: int = -1, seq_output: bool = False, p_drop: float = 0.0,
                 weights=None, direction: str = "forward", inner_init=None, reset_after: bool = False):
        super().__init__(size, activation, gate_activation, init, truncate_gradient, seq_output, p_drop,
                         weights, direction, inner_init)
        if not isinstance(reset_after, (bool, np.bool_)):
            raise ValueError(f"reset_after must be True or False, got {reset_after!r}")
        self.reset_after = bool(reset_after)
        if self.reset_after:
            self.recurrent_weights = ("U", "b_Uh")

    def recurrent_param_specs(self):
        if self.reset_after:
            return [Param("U", (self.size, 3 * self.size), self.inner_init, 3),
                    Param("b_Uh", (self.size,), inits.Constant(0.0))]
        return [Param("U_zr", (self.size, 2 * self.size), self.inner_init, 2),
                Param("U_h", (self.size, self.size), self.inner_init)]

    # The stored record per step is [pre_zr | pre_h | r * h]: the reset state is kept, not recomputed,
    # because U_h's gradient needs it for every step at once (recomputing it cost 12% of a GRU 128 step).

    def step(self, x_t, states, U):
        if self.reset_after:
            return self._step_reset_after(x_t, states, U)
        (h,), (U_zr, U_h), n = states, U, self.size
        pre_zr = x_t[:, :2 * n] + backend.dot(h, U_zr)  # (B, 2n): one product for both gates
        zr = self.gate_activation(pre_zr)
        z, r = zr[:, :n], zr[:, n:]
        rh = r * h
        pre_h = x_t[:, 2 * n:] + backend.dot(rh, U_h)  # (B, n)
        h_new = z * h + (1.0 - z) * self.activation(pre_h)
        return [h_new], T.concatenate([pre_zr, pre_h, rh], axis=1)

    def step_backward(self, pre, states, U, d_new):
        if self.reset_after:
            return self._step_backward_reset_after(pre, states, U, d_new)
        (h,), (U_zr, U_h), (d_h_new,), n = states, U, d_new, self.size
        pre_zr, pre_h = pre[:, :2 * n], pre[:, 2 * n:3 * n]
        zr = self.gate_activation(pre_zr)
        z, r = zr[:, :n], zr[:, n:]
        h_candidate = self.activation(pre_h)
        d_pre_h = backend.vjp(h_candidate, pre_h, d_h_new * (1.0 - z))
        d_rh = backend.dot_transposed(d_pre_h, U_h)  # gradient of r * h
        d_zr = T.concatenate([d_h_new * (h - h_candidate), d_rh * h], axis=1)
        d_pre_zr = backend.vjp(zr, pre_zr, d_zr)
        d_h = d_h_new * z + d_rh * r + backend.dot_transposed(d_pre_zr, U_zr)
        return T.concatenate([d_pre_zr, d_pre_h], axis=1), [d_h]

    def weight_gradients(self, pre, h, d_pre):
        n = self.size
        if self.reset_after:  # the recurrent product's gradient: the gates', then the candidate's through r
            d_u = d_pre[:, :, 2 * n:] * self.gate_activation(pre[:, :, n:2 * n])
            return [summed(h, T.concatenate([d_pre[:, :, :2 * n], d_u], axis=2)), d_u.sum(axis=(0, 1))]
        return [summed(h, d_pre[:, :, :2 * n]), summed(pre[:, :, 3 * n:], d_pre[:, :, 2 * n:])]  # pre[..., 3n:]: r * h

    # reset_after: the stored pre-activations are [pre_zr | pre_h | u] with u = h Uh + b_Uh, the
    # recurrent candidate product the reset gate scales (backward needs it).

    def _step_reset_after(self, x_t, states, U):
        (h,), (U, b_Uh), n = states, U, self.size
        hU = backend.dot(h, U)  # (B, 3n): the step's one product
        pre_zr = x_t[:, :2 * n] + hU[:, :2 * n]
        zr = self.gate_activation(pre_zr)
        z, r = zr[:, :n], zr[:, n:]
        u = hU[:, 2 * n:] + b_Uh
        pre_h = x_t[:, 2 * n:] + r * u
        h_new = z * h + (1.0 - z) * self.activation(pre_h)
        return [h_new], T.concatenate([pre_zr, pre_h, u], axis=1)

    def _step_backward_reset_after(self, pre, states, U, d_new):
        (h,), (U, _), (d_h_new,), n = states, U, d_new, self.size
        pre_zr, pre_h, u = pre[:, :2 * n], pre[:, 2 * n:3 * n], pre[:, 3 * n:]
        zr = self.gate_activation(pre_zr)
        z, r = zr[:, :n], zr[:, n:]
        h_candidate = self.activation(pre_h)
        d_pre_h = backend.vjp(h_candidate, pre_h, d_h_new * (1.0 - z))
        d_zr = T.concatenate([d_h_new * (h - h_candidate), d_pre_h * u], axis=1)
        d_pre_zr = backend.vjp(zr, pre_zr, d_zr)
        d_hU = T.concatenate([d_pre_zr, d_pre_h * r], axis=1)  # (B, 3n)
        d_h = d_h_new * z + backend.dot_transposed(d_hU, U)  # the step's one backward product
        return T.concatenate([d_pre_zr, d_pre_h], axis=1), [d_h]

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


class LstmRecurrent(Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997; forget gate of Gers et al., 2000)::

        i  = g(x Wi + h Ui + bi)              input gate
        f  = g(x Wf + h Uf + bf)              forget gate
        o  = g(x Wo + h Uo + bo)              output gate
        c~ = act(x Wc + h Uc + bc)
        c' = f * c + i * c~
        h' = o * act(c')

    Parameters: ``W`` (n_in, 4*size) = [Wi | Wf | Wo | Wc]; ``U`` (size, 4*size) in the same
    order; ``b`` (4*size,), with the forget-gate bias starting at 1 so memory is kept early in
    training (Jozefowicz et al., 2015). States (h, c); the output is h.
    """

    n_gates = 4
    n_states = 2

    recurrent_weights = ("U",)
    written_gradient = True

    def recurrent_param_specs(self):
        return [Param("U", (self.size, 4 * self.size), self.inner_init, 4)]

    def bias_init(self):
        return lambda shape, rng: np.concatenate([np.zeros(self.size), np.ones(self.size),
                                                  np.zeros(2 * self.size)])

    def _gates(self, pre):
        """(pre-activation blocks, activated blocks) in the order i, f, o, c~."""
        n = self.size
        blocks = [pre[:, k * n:(k + 1) * n] for k in range(4)]
        functions = [self.gate_activation] * 3 + [self.activation]
        return blocks, [f(block) for f, block in zip(functions, blocks)]

    def step(self, x_t, states, U):
        (h, c), (U,) = states, U
        pre = x_t + backend.dot(h, U)  # (B, 4n): one product for all gates
        _, (i, f, o, c_candidate) = self._gates(pre)
        c_new = f * c + i * c_candidate
        return [o * self.activation(c_new), c_new], pre

    def step_backward(self, pre, states, U, d_new):
        (_, c), (U,), (d_h_new, d_c_new) = states, U, d_new  # h enters only through pre
        blocks, (i, f, o, c_candidate) = self._gates(pre)
        c_new = f * c + i * c_candidate
        c_out = self.activation(c_new)
        d_c_new = d_c_new + backend.vjp(c_out, c_new, d_h_new * o)
        d_gates = [d_c_new * c_candidate, d_c_new * c, d_h_new * c_out, d_c_new * i]  # i, f, o, c~
        d_pre = T.concatenate([backend.vjp(gate, block, d_gate) for gate, block, d_gate
                               in zip((i, f, o, c_candidate), blocks, d_gates)], axis=1)
        return d_pre, [backend.dot_transposed(d_pre, U), d_c_new * f]

    def weight_gradients(self, pre, h, d_pre):
        return [summed(h, d_pre)]
