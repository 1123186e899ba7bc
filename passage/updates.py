"""Optimizers ("updaters"): each turns a cost and parameters into a list of shared-variable updates.

Every updater shares the same frame (:class:`Update`): gradients, an optional :class:`Regularizer`,
one global-norm clip, then the optimizer's own ``step`` per parameter. The learning rate lives in a
shared variable, so ``updater.lr = 0.1`` between epochs takes effect without recompiling.
Optimizer state (moments, accumulators) is created once per parameter and reused by every
function the model compiles.
"""
from __future__ import annotations

import logging

import numpy as np

from passage import backend
from passage.backend import T
from passage.naming import Registry

__all__ = ["Regularizer", "Update", "SGD", "Momentum", "NAG", "Adagrad", "Adadelta", "RMSprop",
           "Adam", "get"]

log = logging.getLogger("passage")


class Regularizer:
    """L1 and L2 penalties added to the gradient, and a max-norm constraint on each weight
    column (the incoming weights of one unit) applied after the step."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0, maxnorm: float = 0.0):
        self.l1, self.l2, self.maxnorm = l1, l2, maxnorm

    def gradient(self, p, g):
        if self.l2:
            g = g + self.l2 * p
        if self.l1:
            g = g + self.l1 * T.sign(p)
        return g

    def constrain(self, p):
        if self.maxnorm and p.ndim == 2:
            norms = T.sqrt(T.sqr(p).sum(axis=0, keepdims=True))  # (1, n_out)
            p = p * T.minimum(1.0, self.maxnorm / (norms + 1e-7))
        return p

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2, "maxnorm": self.maxnorm}


class Update:
    """Base of all updaters. Subclasses define ``step(p, g) -> new p`` using :meth:`slot` for state."""

    def __init__(self, lr: float, clipnorm: float = 0.0, regularizer: Regularizer | None = None):
        self._lr = backend.shared(np.asarray(lr, dtype=backend.floatX()), name="lr")
        self.clipnorm = clipnorm
        self.regularizer = regularizer if regularizer is not None else Regularizer()
        self._slots: dict[tuple[int, str], object] = {}
        self._pending: list = []
        self._index: dict[int, int] = {}    # id(parameter) -> its position in the model's list
        self._restored: dict[str, np.ndarray] = {}  # state from a checkpoint, for slots not made yet

    @property
    def lr(self) -> float:
        return float(self._lr.get_value(borrow=True))

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr.set_value(np.asarray(value, dtype=self._lr.dtype))

    def slot(self, p, name: str, init: float = 0.0):
        """Shared state shaped like ``p`` (or a scalar when ``p`` is None), made once and reused.
        The step writes the new value with :meth:`assign`."""
        key = (id(p), name)
        if key not in self._slots:
            value = np.full(() if p is None else p.get_value(borrow=True).shape, init, dtype=backend.floatX())
            value = self._restored.get(self._state_name(key), value)
            self._slots[key] = backend.shared(value, name=f"{getattr(p, 'name', None)}_{name}")
        return self._slots[key]

    def _state_name(self, key: tuple[int, str]) -> str:
        """'<slot>' for a scalar slot, '<parameter position>/<slot>' for one shaped like a parameter."""
        p_id, name = key
        return name if p_id == id(None) else f"{self._index[p_id]}/{name}"

    def get_state(self) -> dict[str, np.ndarray]:
        """The optimizer's state by name (learning rate, moments, step count), for checkpoints."""
        state = {name: self._restored[name] for name in self._restored}  # not yet used by a compile
        state.update({self._state_name(key): backend.value(slot) for key, slot in self._slots.items()})
        state["lr"] = backend.value(self._lr)
        return state

    def set_state(self, state: dict[str, np.ndarray], params) -> None:
        """Restore :meth:`get_state` for the model whose parameters are ``params`` (same order)."""
        self._index = {id(p): i for i, p in enumerate(params)}
        state = dict(state)
        self.lr = state.pop("lr", self.lr)
        for key, slot in self._slots.items():
            name = self._state_name(key)
            if name in state:
                slot.set_value(np.asarray(state.pop(name), dtype=slot.dtype))
        self._restored = state

    def assign(self, state, value) -> None:
        self._pending.append((state, value))

    def get_updates(self, params, cost):
        self._index = {id(p): i for i, p in enumerate(params)}
        grads = backend.grad(cost, params)
        grads = [self.regularizer.gradient(p, g) for p, g in zip(params, grads)]
        if self.clipnorm:
            norm = T.sqrt(sum(T.sqr(g).sum() for g in grads))
            scale = T.minimum(1.0, self.clipnorm / (norm + 1e-7))
            grads = [g * scale for g in grads]
        self._pending = []
        self.begin()
        updates = [(p, self.regularizer.constrain(self.step(p, g))) for p, g in zip(params, grads)]
        return updates + self._pending

    def begin(self) -> None:
        """Called once per compiled function before the per-parameter steps (Adam counts steps here)."""

    def step(self, p, g):
        raise NotImplementedError

    def get_config(self) -> dict:
        config = {k: v for k, v in vars(self).items() if not k.startswith("_") and k != "regularizer"}
        config.update(lr=self.lr, regularizer=self.regularizer.get_config())
        return config


class SGD(Update):
    """``p <- p - lr * g``"""

    def __init__(self, lr: float = 0.01, **kwargs):
        super().__init__(lr, **kwargs)

    def step(self, p, g):
        return p - self._lr * g


class Momentum(Update):
    """Classical momentum: ``v <- momentum * v - lr * g; p <- p + v``"""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, **kwargs):
        super().__init__(lr, **kwargs)
        self.momentum = momentum

    def step(self, p, g):
        v = self.slot(p, "velocity")
        v_new = self.momentum * v - self._lr * g
        self.assign(v, v_new)
        return p + v_new


class NAG(Momentum):
    """Nesterov momentum (Sutskever et al., 2013 form): ``v <- momentum * v - lr * g;
    p <- p + momentum * v - lr * g``"""

    def step(self, p, g):
        v = self.slot(p, "velocity")
        v_new = self.momentum * v - self._lr * g
        self.assign(v, v_new)
        return p + self.momentum * v_new - self._lr * g


class Adagrad(Update):
    """Duchi et al. (2011): ``a <- a + g^2; p <- p - lr * g / sqrt(a + epsilon)``"""

    def __init__(self, lr: float = 0.01, epsilon: float = 1e-6, **kwargs):
        super().__init__(lr, **kwargs)
        self.epsilon = epsilon

    def step(self, p, g):
        a = self.slot(p, "accumulator")
        a_new = a + T.sqr(g)
        self.assign(a, a_new)
        return p - self._lr * g / T.sqrt(a_new + self.epsilon)


class Adadelta(Update):
    """Zeiler (2012): ``a <- rho a + (1-rho) g^2; u = g sqrt(d + eps) / sqrt(a + eps);
    p <- p - lr * u; d <- rho d + (1-rho) u^2`` (``lr=1`` is the paper's; Passage used 0.5)."""

    def __init__(self, lr: float = 0.5, rho: float = 0.95, epsilon: float = 1e-6, **kwargs):
        super().__init__(lr, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def step(self, p, g):
        a, d = self.slot(p, "accumulator"), self.slot(p, "delta_accumulator")
        a_new = self.rho * a + (1 - self.rho) * T.sqr(g)
        u = g * T.sqrt(d + self.epsilon) / T.sqrt(a_new + self.epsilon)
        self.assign(a, a_new)
        self.assign(d, self.rho * d + (1 - self.rho) * T.sqr(u))
        return p - self._lr * u


class RMSprop(Update):
    """Tieleman & Hinton (2012): ``a <- rho a + (1-rho) g^2; p <- p - lr * g / sqrt(a + epsilon)``"""

    def __init__(self, lr: float = 0.001, rho: float = 0.9, epsilon: float = 1e-6, **kwargs):
        super().__init__(lr, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def step(self, p, g):
        a = self.slot(p, "accumulator")
        a_new = self.rho * a + (1 - self.rho) * T.sqr(g)
        self.assign(a, a_new)
        return p - self._lr * g / T.sqrt(a_new + self.epsilon)


class Adam(Update):
    """Kingma & Ba (2015), Algorithm 1: ``t <- t+1; m <- beta1 m + (1-beta1) g; v <- beta2 v + (1-beta2) g^2;
    p <- p - lr * (m / (1-beta1^t)) / (sqrt(v / (1-beta2^t)) + epsilon)``

    The 2015 library's spelling ``Adam(lr, b1, b2, e)`` still means what it meant there: ``b1`` and
    ``b2`` are *one minus* the decay rates (its defaults ``b1=0.1, b2=0.001`` are ``beta1=0.9,
    beta2=0.999``) and ``e`` is ``epsilon``. It logs one line naming today's spelling.
    """

    def __init__(self, lr: float = 0.001, b1: float | None = None, b2: float | None = None,
                 e: float | None = None, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
                 **kwargs):
        super().__init__(lr, **kwargs)
        if b1 is not None or b2 is not None or e is not None:
            beta1 = beta1 if b1 is None else 1.0 - b1
            beta2 = beta2 if b2 is None else 1.0 - b2
            epsilon = epsilon if e is None else e
            log.warning("Adam(b1, b2, e) is the 2015 spelling, where b1 and b2 are one minus the decay rates: "
                        "this is Adam(beta1=%g, beta2=%g, epsilon=%g)", beta1, beta2, epsilon)
        for name, rate in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"Adam's {name} is a decay rate in [0, 1), got {rate}")
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon

    def begin(self) -> None:
        t = self.slot(None, "t")
        self._t = t + 1.0
        self.assign(t, self._t)

    def step(self, p, g):
        m, v = self.slot(p, "m"), self.slot(p, "v")
        m_new = self.beta1 * m + (1 - self.beta1) * g
        v_new = self.beta2 * v + (1 - self.beta2) * T.sqr(g)
        self.assign(m, m_new)
        self.assign(v, v_new)
        m_hat = m_new / (1 - self.beta1 ** self._t)
        v_hat = v_new / (1 - self.beta2 ** self._t)
        return p - self._lr * m_hat / (T.sqrt(v_hat) + self.epsilon)


REGISTRY = Registry("updater", {cls.__name__: cls for cls in (SGD, Momentum, NAG, Adagrad, Adadelta, RMSprop,
                                                                Adam)})


def get(identifier) -> Update:
    """An updater from a name (case-insensitive, default settings), a class, or an instance."""
    if isinstance(identifier, Update):
        return identifier
    return REGISTRY.resolve(identifier)()


def from_config(name: str, config: dict) -> Update:
    """Rebuild an updater from its class name and :meth:`Update.get_config`."""
    cls = REGISTRY.get(name)
    config = dict(config)
    regularizer = Regularizer(**config.pop("regularizer", {}))
    return cls(regularizer=regularizer, **config)
