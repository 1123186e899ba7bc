"""Layers. The first layer of a model reads its input (Embedding, OneHot, Generic); the rest map
activations to activations (SimpleRecurrent, GatedRecurrent, LstmRecurrent, Dense).

Shapes are time-major: ids ``(time, batch)``, activations ``(time, batch, features)``; a
recurrent layer with ``seq_output=False`` returns its last state ``(batch, size)``. Every layer
receives the padding ``mask`` ``(time, batch)`` (1 for a real step, 0 for padding).

A layer is built once the size of its input is known (:meth:`Layer.build`); then ``params`` holds
its shared variables, named, in a fixed order that ``weights=`` and :meth:`Layer.get_weights` follow.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from passage import activations, backend, inits
from passage.backend import T

__all__ = ["Layer", "DropoutMasks", "Embedding", "OneHot", "Generic", "SimpleRecurrent", "GatedRecurrent",
           "LstmRecurrent", "Dense", "get"]


class Layer:
    """Common machinery: named parameters, weights in and out, dropout, config."""

    is_input = False
    input_size_known = True  # False for an input layer told to size itself from the data

    def __init__(self, weights=None, p_drop: float = 0.0):
        if not 0.0 <= p_drop < 1.0:
            raise ValueError(f"p_drop is the probability of dropping an input and must be in [0, 1), got {p_drop}")
        self.p_drop = p_drop
        self.params: list = []
        self.built = False
        self._initial_weights = weights

    def build(self, n_in: int | None, rng: np.random.Generator) -> None:
        """Create the parameters for an input of ``n_in`` features (None for an input layer)."""
        self.n_in = n_in
        self.params = []
        self.make_params(rng)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)

    def make_params(self, rng: np.random.Generator) -> None:
        """Subclasses call :meth:`add_param` for each parameter."""

    def add_param(self, name: str, shape: tuple[int, ...], init, rng: np.random.Generator, blocks: int = 1):
        """A named parameter of ``shape`` whose last axis holds ``blocks`` gates side by side,
        each initialised as a matrix of its own."""
        init = inits.get(init)
        block_shape = shape[:-1] + (shape[-1] // blocks,)
        value = np.concatenate([init(block_shape, rng) for _ in range(blocks)], axis=-1)
        param = backend.shared(value, name=name)
        setattr(self, name, param)
        self.params.append(param)
        return param

    @property
    def param_names(self) -> list[str]:
        return [p.name for p in self.params]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the parameter values, in ``param_names`` order."""
        return [p.get_value() for p in self.params]

    def set_weights(self, weights) -> None:
        """Set values from a list in ``param_names`` order or a dict by name; shapes must match."""
        if isinstance(weights, dict):
            unknown = set(weights) - set(self.param_names)
            if unknown:
                raise ValueError(f"{type(self).__name__} has no parameters {sorted(unknown)}; it has {self.param_names}")
            weights = [weights.get(name, p.get_value()) for name, p in zip(self.param_names, self.params)]
        if len(weights) != len(self.params):
            raise ValueError(f"{type(self).__name__} takes {len(self.params)} weight arrays "
                             f"({self.param_names}), got {len(weights)}")
        for p, value in zip(self.params, weights):
            value = np.asarray(value)
            expected = p.get_value(borrow=True).shape
            if value.shape != expected:
                raise ValueError(f"{type(self).__name__}.{p.name} has shape {expected}, got {value.shape}")
            p.set_value(value.astype(p.dtype))

    def dropout(self, x, train: bool, masks: "DropoutMasks"):
        """Inverted dropout: while training, zero each input with probability ``p_drop`` and scale
        the rest by ``1 / (1 - p_drop)``, so nothing changes at prediction time."""
        if not train or not self.p_drop:
            return x
        keep = 1.0 - self.p_drop
        return x * T.cast(masks.keep(x, keep), x.dtype) / keep

    def get_config(self) -> dict:
        """JSON-safe settings that rebuild the layer (weights are stored apart)."""
        raise NotImplementedError


class DropoutMasks:
    """The dropout masks of one compiled training function, drawn on the host.

    Building the graph, each dropout asks :meth:`keep` for a mask: a boolean input of its own.
    Calling the function, the model passes :meth:`draw`'s masks, drawn from its seeded numpy
    generator. So dropout is reproducible, and resuming from a checkpoint restores it exactly:
    the generator's state is all there is to save.
    """

    def __init__(self):
        self.inputs: list = []
        self._specs: list[tuple[float, int, int]] = []  # (keep probability, ndim, features)

    def keep(self, x, keep: float):
        """A symbolic mask shaped like ``x`` ((time, batch, features) or (batch, features))."""
        mask = backend.tensor_input(f"dropout{len(self.inputs)}", "bool", x.type.shape)
        self.inputs.append(mask)
        self._specs.append((keep, x.ndim, x.type.shape[-1]))
        return mask

    def draw(self, rng: np.random.Generator, length: int, batch: int) -> list[np.ndarray]:
        """Fresh masks for a batch of ``batch`` sequences padded to ``length`` steps."""
        masks = []
        for keep, ndim, features in self._specs:
            shape = (length, batch, features) if ndim == 3 else (batch, features)
            masks.append(rng.random(shape, dtype=np.float32) < keep)
        return masks


def _ids_needed(sequences) -> int:
    """How many ids the sequences of ids use: their largest + 1."""
    return 1 + max((int(x.max()) for x in sequences if len(x)), default=0)


def _init_name(init) -> str:
    return init.lower() if isinstance(init, str) else inits.name_of(init)


class Embedding(Layer):
    """Learned vectors for integer ids: ``(time, batch)`` ids -> ``(time, batch, size)``.

    Padding positions output zeros, so the PAD id's vector (id 0) never gets a gradient from padding.
    """

    is_input = True
    input_dtype = "int32"

    def __init__(self, size: int = 128, n_features: int | None = 256, init="uniform", weights=None):
        super().__init__(weights=weights)
        self.size, self.n_features, self.init = size, n_features, init
        self.n_out = size

    @property
    def input_size_known(self) -> bool:
        return self.n_features is not None

    def fit_input(self, sequences) -> None:
        """``n_features=None``: size the vocabulary from the largest id of the training data."""
        self.n_features = _ids_needed(sequences)

    def make_params(self, rng):
        self.add_param("W", (self.n_features, self.size), self.init, rng)

    def output(self, ids, mask, train, masks):
        return self.W[ids] * mask[:, :, None]  # (T, B, size)

    def get_config(self):
        return {"size": self.size, "n_features": self.n_features, "init": _init_name(self.init)}


class OneHot(Layer):
    """One-hot vectors for integer ids: ``(time, batch)`` -> ``(time, batch, n_features)``; no parameters."""

    is_input = True
    input_dtype = "int32"

    def __init__(self, n_features: int | None = 256):
        super().__init__()
        self.n_features = n_features
        self.n_out = n_features

    @property
    def input_size_known(self) -> bool:
        return self.n_features is not None

    def fit_input(self, sequences) -> None:
        """``n_features=None``: as many features as the training data's largest id + 1."""
        self.n_features = self.n_out = _ids_needed(sequences)

    def output(self, ids, mask, train, masks):
        one_hot = T.eq(ids[:, :, None], T.arange(self.n_features)[None, None, :])  # (T, B, n_features)
        return T.cast(one_hot, backend.floatX()) * mask[:, :, None]

    def get_config(self):
        return {"n_features": self.n_features}


class Generic(Layer):
    """Real-valued sequences, each an array ``(length, size)``: -> ``(time, batch, size)``."""

    is_input = True
    input_dtype = "float"

    def __init__(self, size: int | None = 1):
        super().__init__()
        self.size = size
        self.n_out = size

    @property
    def input_size_known(self) -> bool:
        return self.size is not None

    def fit_input(self, sequences) -> None:
        """``size=None``: as many features per step as the training data has."""
        self.size = self.n_out = int(np.shape(sequences[0])[-1])

    def output(self, x, mask, train, masks):
        return x * mask[:, :, None]

    def get_config(self):
        return {"size": self.size}


class Recurrent(Layer):
    """Shared frame of the recurrent layers.

    All time steps' input projections ``x W + b`` are one matrix product before the loop; the
    loop (``scan``) runs :meth:`step`, which adds the hidden-to-hidden products. At a padding step
    the states are carried over unchanged: ``s' = m * step(x, s) + (1 - m) * s``, so padding never
    changes a result. ``init`` initialises the input weights W, ``inner_init`` (default: the same)
    the recurrent weights U, e.g. ``inner_init='identity'`` with ``activation='rectify'`` (Le et
    al., 2015). ``direction='backward'`` reads the sequence from its end; with
    ``seq_output=True`` the states are returned in the original time order either way.

    Training: the gradient is written out (:meth:`step_backward`) rather than derived through the
    loop. The forward loop keeps each step's pre-activations, so the backward loop never recomputes
    a recurrent product, and the recurrent weights' gradients are one large matrix product after
    it (:meth:`weight_gradients`) instead of a small one per step. A new recurrent layer may define
    only :meth:`step`: PyTensor then derives the gradient through the loop (correct, slower).
    ``truncate_gradient=k`` sends gradients back through the last ``k`` steps only (with a written
    :meth:`step_backward`).
    """

    n_gates = 1   # blocks of ``size`` columns in W and b
    n_states = 1  # carried states; the first one is the output h

    def __init__(self, size: int = 256, activation="tanh", gate_activation="steeper_sigmoid",
                 init="orthogonal", seq_output: bool = False, p_drop: float = 0.0,
                 truncate_gradient: int = -1, direction: str = "forward", weights=None, inner_init=None):
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
        self.seq_output, self.truncate_gradient, self.direction = seq_output, truncate_gradient, direction
        self.n_out = size

    def make_params(self, rng):
        n_cols = self.n_gates * self.size
        self.add_param("W", (self.n_in, n_cols), self.init, rng, blocks=self.n_gates)
        self.make_recurrent_params(rng)
        self.add_param("b", (n_cols,), self.bias_init(), rng)

    def bias_init(self):
        return inits.Constant(0.0)

    def make_recurrent_params(self, rng):
        raise NotImplementedError

    def step(self, x_t, states, U):
        """One time step, unmasked: projected input ``x_t`` (batch, n_gates*size), the states
        (batch, size) each and the recurrent weights ``U`` (those of :meth:`make_recurrent_params`,
        in order) -> (new states, pre-activations: ``x_t`` plus the recurrent products, laid out
        like ``x_t``)."""
        raise NotImplementedError

    def step_backward(self, pre, states, U, d_new):
        """The gradient of :meth:`step`: from its pre-activations, the states it started from and the
        gradients ``d_new`` of its new states -> (gradient of ``pre``, gradients of ``states``)."""
        raise NotImplementedError

    def weight_gradients(self, pre, h, d_pre):
        """Gradients of the recurrent weights, summed over all steps at once: ``pre`` and ``d_pre``
        (steps*batch, n_gates*size), ``h`` (steps*batch, size) the output state each step started from."""
        raise NotImplementedError

    def output(self, x, mask, train, masks):
        x = self.dropout(x, train, masks)
        projected = T.dot(x, self.W) + self.b  # (T, B, n_gates*size)
        if self.direction == "backward":
            projected, mask = projected[::-1], mask[::-1]  # the loop walks from the end
        U = [p for p in self.params if p.name not in ("W", "b")]  # in make_recurrent_params' order
        inputs = [projected, mask, *U]
        if type(self).step_backward is Recurrent.step_backward:  # none written: PyTensor derives it
            if self.truncate_gradient != -1:  # PyTensor's own truncated scan gradient fails in JAX mode
                raise ValueError(f"{type(self).__name__} has no step_backward, which truncate_gradient needs")
            h = self._loop(*inputs)[0]  # (T, B, size)
        else:
            h = backend.custom_gradient(self._loop, self._loop_gradient, inputs)[0]
        if not self.seq_output:
            return h[-1]  # (B, size): the state after the whole sequence
        return h[::-1] if self.direction == "backward" else h

    def _loop(self, projected, mask, *U):
        """The forward loop -> the states after each step ((T, B, size) each), then the pre-activations."""
        def masked_step(x_t, m_t, *states):
            new_states, pre = self.step(x_t, states, U)
            m = m_t[:, None]  # (B, 1): broadcast over features
            return [m * new + (1.0 - m) * old for new, old in zip(new_states, states)] + [pre]

        zeros = T.zeros((projected.shape[1], self.size), dtype=projected.dtype)  # (B, size)
        return backend.scan(masked_step, sequences=[projected, mask],
                            outputs_info=[zeros] * self.n_states + [None])

    def _loop_gradient(self, inputs, outputs, cotangents):
        """The backward loop, last step first, then the recurrent weights' gradients."""
        projected, mask, *U = inputs
        *states, pre = outputs
        d_h = cotangents[0]  # (T, B, size): what the outputs h receive from above
        previous = [T.concatenate([T.zeros_like(s[:1]), s[:-1]]) for s in states]  # each step's start states
        steps = slice(None) if self.truncate_gradient == -1 else slice(-self.truncate_gradient, None)
        d_h, pre, mask, previous = d_h[steps], pre[steps], mask[steps], [s[steps] for s in previous]

        def step_back(d_h_t, pre_t, m_t, *rest):
            started, carried = rest[:self.n_states], rest[self.n_states:]
            d_states = [carried[0] + d_h_t, *carried[1:]]  # gradients of this step's (masked) states
            m = m_t[:, None]
            d_pre_t, d_started = self.step_backward(pre_t, started, U, [m * d for d in d_states])
            return [d + (1.0 - m) * d_kept for d, d_kept in zip(d_started, d_states)] + [d_pre_t]

        zeros = T.zeros_like(states[0][0])  # (B, size)
        d_pre = backend.scan(step_back, sequences=[d_h, pre, mask, *previous],
                             outputs_info=[zeros] * self.n_states + [None],
                             go_backwards=True)[-1][::-1]  # (steps, B, n_gates*size), in time order

        def flat(v):
            return v.reshape((-1, v.shape[-1]))  # (steps*B, features)

        d_U = self.weight_gradients(flat(pre), flat(previous[0]), flat(d_pre))
        if self.truncate_gradient != -1:  # no gradient reaches the steps before the last k
            d_pre = T.concatenate([T.zeros_like(projected[:-self.truncate_gradient]), d_pre])
        return [d_pre, None, *d_U]

    def get_config(self):
        return {"size": self.size, "activation": activations.name_of(self.activation),
                "gate_activation": activations.name_of(self.gate_activation), "init": _init_name(self.init),
                "inner_init": _init_name(self.inner_init),
                "seq_output": self.seq_output, "p_drop": self.p_drop,
                "truncate_gradient": self.truncate_gradient, "direction": self.direction}


class SimpleRecurrent(Recurrent):
    """Elman RNN: ``h' = act(x W + h U + b)``.

    Parameters: ``W`` (n_in, size), ``U`` (size, size), ``b`` (size,). ``gate_activation`` is unused.
    """

    def make_recurrent_params(self, rng):
        self.add_param("U", (self.size, self.size), self.inner_init, rng)

    def step(self, x_t, states, U):
        pre = x_t + T.dot(states[0], U[0])
        return [self.activation(pre)], pre

    def step_backward(self, pre, states, U, d_new):
        d_pre = backend.vjp(self.activation(pre), pre, d_new[0])
        return d_pre, [T.dot(d_pre, U[0].T)]

    def weight_gradients(self, pre, h, d_pre):
        return [T.dot(h.T, d_pre)]


class GatedRecurrent(Recurrent):
    """Gated recurrent unit (Cho et al., 2014), as in the talk and the 2015 library::

        z  = g(x Wz + h Uz + bz)              update gate
        r  = g(x Wr + h Ur + br)              reset gate
        h~ = act(x Wh + (r * h) Uh + bh)      candidate; the reset gate applies before Uh
        h' = z * h + (1 - z) * h~

    ``g`` is ``gate_activation`` (default steeper_sigmoid), ``act`` is ``activation`` (tanh).
    Parameters: ``W`` (n_in, 3*size) = [Wz | Wr | Wh]; ``U_zr`` (size, 2*size) = [Uz | Ur];
    ``U_h`` (size, size); ``b`` (3*size,) = [bz | br | bh].
    """

    n_gates = 3

    def make_recurrent_params(self, rng):
        self.add_param("U_zr", (self.size, 2 * self.size), self.inner_init, rng, blocks=2)
        self.add_param("U_h", (self.size, self.size), self.inner_init, rng)

    def step(self, x_t, states, U):
        (h,), (U_zr, U_h), n = states, U, self.size
        pre_zr = x_t[:, :2 * n] + T.dot(h, U_zr)  # (B, 2n): one product for both gates
        zr = self.gate_activation(pre_zr)
        z, r = zr[:, :n], zr[:, n:]
        pre_h = x_t[:, 2 * n:] + T.dot(r * h, U_h)  # (B, n)
        h_new = z * h + (1.0 - z) * self.activation(pre_h)
        return [h_new], T.concatenate([pre_zr, pre_h], axis=1)

    def step_backward(self, pre, states, U, d_new):
        (h,), (U_zr, U_h), (d_h_new,), n = states, U, d_new, self.size
        pre_zr, pre_h = pre[:, :2 * n], pre[:, 2 * n:]
        zr = self.gate_activation(pre_zr)
        z, r = zr[:, :n], zr[:, n:]
        h_candidate = self.activation(pre_h)
        d_pre_h = backend.vjp(h_candidate, pre_h, d_h_new * (1.0 - z))
        d_rh = T.dot(d_pre_h, U_h.T)  # gradient of r * h
        d_zr = T.concatenate([d_h_new * (h - h_candidate), d_rh * h], axis=1)
        d_pre_zr = backend.vjp(zr, pre_zr, d_zr)
        d_h = d_h_new * z + d_rh * r + T.dot(d_pre_zr, U_zr.T)
        return T.concatenate([d_pre_zr, d_pre_h], axis=1), [d_h]

    def weight_gradients(self, pre, h, d_pre):
        n = self.size
        r = self.gate_activation(pre[:, n:2 * n])
        return [T.dot(h.T, d_pre[:, :2 * n]), T.dot((r * h).T, d_pre[:, 2 * n:])]


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

    def make_recurrent_params(self, rng):
        self.add_param("U", (self.size, 4 * self.size), self.inner_init, rng, blocks=4)

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
        pre = x_t + T.dot(h, U)  # (B, 4n): one product for all gates
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
        return d_pre, [T.dot(d_pre, U.T), d_c_new * f]

    def weight_gradients(self, pre, h, d_pre):
        return [T.dot(h.T, d_pre)]


class Dense(Layer):
    """Fully connected: ``act(x W + b)`` on ``(batch, n_in)``, or per time step on ``(time, batch, n_in)``
    (a "deep input" below a recurrent layer). Parameters ``W`` (n_in, size), ``b`` (size,)."""

    def __init__(self, size: int = 256, activation="rectify", init="orthogonal", p_drop: float = 0.0,
                 weights=None):
        super().__init__(weights=weights, p_drop=p_drop)
        self.size, self.init = size, init
        self.activation = activations.get(activation)
        self.n_out = size

    def make_params(self, rng):
        self.add_param("W", (self.n_in, self.size), self.init, rng)
        self.add_param("b", (self.size,), inits.Constant(0.0), rng)

    def output(self, x, mask, train, masks):
        x = self.dropout(x, train, masks)
        return self.activation(T.dot(x, self.W) + self.b)  # (..., size)

    def get_config(self):
        return {"size": self.size, "activation": activations.name_of(self.activation),
                "init": _init_name(self.init),
                "p_drop": self.p_drop}


_BY_NAME = {cls.__name__: cls for cls in (Embedding, OneHot, Generic, SimpleRecurrent, GatedRecurrent,
                                          LstmRecurrent, Dense)}


def get(class_name: str, config: dict) -> Layer:
    """Rebuild a layer from its class name and :meth:`Layer.get_config` (no code from outside runs)."""
    try:
        cls = _BY_NAME[class_name]
    except KeyError:
        raise ValueError(f"unknown layer class {class_name!r}; known: {sorted(_BY_NAME)}") from None
    return cls(**config)


def check_stack(layers: Sequence[Layer]) -> None:
    """Fail early, with a fix, when layers cannot be stacked."""
    if not layers:
        raise ValueError("a model needs layers, e.g. [Embedding(...), GatedRecurrent(...), Dense(...)]")
    if not layers[0].is_input:
        raise ValueError(f"the first layer must read the input (Embedding, OneHot or Generic), got "
                         f"{type(layers[0]).__name__}")
    for position, layer in enumerate(layers[1:], start=1):
        if layer.is_input:
            raise ValueError(f"{type(layer).__name__} reads raw input and can only be the first layer "
                             f"(found at position {position})")
    sequence = True
    for layer in layers[1:]:
        if isinstance(layer, Recurrent):
            if not sequence:
                raise ValueError(f"{type(layer).__name__} needs sequences, but the recurrent layer before it "
                                 "has seq_output=False; set seq_output=True on all but the last recurrent layer")
            sequence = layer.seq_output
    if sequence:
        raise ValueError("the model must end with a summary of each sequence: give the last recurrent "
                         "layer seq_output=False")
