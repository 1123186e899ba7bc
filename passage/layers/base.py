"""What every layer shares: named parameters declared before they exist, weights in and out,
dropout, config. Shapes are time-major: ids ``(time, batch)``, activations ``(time, batch, features)``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from passage import backend, inits
from passage.backend import T

__all__ = ["Param", "Layer", "DropoutMasks", "init_name"]


class Param(NamedTuple):
    """A parameter a layer will have: its name, shape and initialiser. ``blocks`` gates side by side
    on the last axis are each initialised as a matrix of their own."""
    name: str
    shape: tuple[int, ...]
    init: object
    blocks: int = 1

    def initial_value(self, rng: np.random.Generator) -> np.ndarray:
        init = inits.get(self.init)
        block_shape = self.shape[:-1] + (self.shape[-1] // self.blocks,)
        return np.concatenate([init(block_shape, rng) for _ in range(self.blocks)], axis=-1)


class Layer:
    """Common machinery. A subclass declares its parameters in :meth:`param_specs` (so their shapes
    are known before anything is allocated: a model file is checked against them), computes
    ``output`` and describes itself in ``get_config``.
    """

    is_input = False       # reads the model's raw input (the first layer)
    is_recurrent = False   # reads sequences with a loop over time
    input_size_known = True  # False for an input layer told to size itself from the data

    def __init__(self, weights=None, p_drop: float = 0.0):
        if not 0.0 <= p_drop < 1.0:
            raise ValueError(f"p_drop is the probability of dropping an input and must be in [0, 1), got {p_drop}")
        self.p_drop = p_drop
        self.params: list = []
        self.built = False
        self._initial_weights = weights

    @property
    def backward_features(self) -> int:
        """How many of this layer's last output features were computed reading time backward."""
        return 0

    def connect(self, below: "Layer") -> None:
        """Learn what the layer below outputs, before :meth:`build` (most layers need only its width)."""

    def param_specs(self, n_in: int | None) -> list[Param]:
        """The parameters this layer has for an input of ``n_in`` features (None for an input layer)."""
        return []

    def build(self, n_in: int | None, rng: np.random.Generator) -> None:
        """Create the parameters, from ``weights=`` where given, else from their initialisers."""
        self.n_in = n_in
        specs = self.param_specs(n_in)
        given = self._given_weights(specs)
        self.params = []
        for spec in specs:
            value = given[spec.name] if spec.name in given else spec.initial_value(rng)
            param = backend.shared(value, name=spec.name)
            setattr(self, spec.name, param)
            self.params.append(param)
        self.built = True

    def _given_weights(self, specs: list[Param]) -> dict[str, np.ndarray]:
        """``weights=`` by name, each checked against its declared shape."""
        if self._initial_weights is None:
            return {}
        return self._checked(self._initial_weights, {spec.name: tuple(spec.shape) for spec in specs})

    def _checked(self, weights, shapes: dict[str, tuple]) -> dict[str, np.ndarray]:
        """``weights`` (a list in the order of ``shapes``, or a dict by name, some or all) as arrays by
        name, each checked against its shape in ``shapes``."""
        names = list(shapes)
        if not isinstance(weights, dict):
            weights = list(weights)
            if len(weights) != len(names):
                raise ValueError(f"{type(self).__name__} takes {len(names)} weight arrays ({names}), "
                                 f"got {len(weights)}")
            weights = dict(zip(names, weights))
        unknown = set(weights) - set(names)
        if unknown:
            raise ValueError(f"{type(self).__name__} has no parameters {sorted(unknown)}; it has {names}")
        checked = {}
        for name in names:
            if name in weights:
                value = np.asarray(weights[name])
                if value.shape != shapes[name]:
                    raise ValueError(f"{type(self).__name__}.{name} has shape {shapes[name]}, got {value.shape}")
                checked[name] = value
        return checked

    @property
    def param_names(self) -> list[str]:
        return [p.name for p in self.params]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the parameter values, in ``param_names`` order."""
        return [backend.value(p) for p in self.params]

    def set_weights(self, weights) -> None:
        """Set values from a list in ``param_names`` order or a dict by name (some or all); shapes must match."""
        by_name = dict(zip(self.param_names, self.params))
        checked = self._checked(weights, {name: p.get_value(borrow=True).shape for name, p in by_name.items()})
        for name, value in checked.items():  # all checked before any is set
            by_name[name].set_value(value.astype(by_name[name].dtype))

    def dropout(self, x, train: bool, masks: "DropoutMasks", whole_vectors: bool = False):
        """Inverted dropout: while training, zero each input with probability ``p_drop`` and scale
        the rest by ``1 / (1 - p_drop)``, so nothing changes at prediction time. With
        ``whole_vectors`` an input is a step's whole vector (one word), not one of its features."""
        if not train or not self.p_drop:
            return x
        keep = 1.0 - self.p_drop
        return x * T.cast(masks.keep(x, keep, whole_vectors), x.dtype) / keep

    def output(self, x, mask, train: bool, masks: "DropoutMasks | None"):
        raise NotImplementedError

    def get_config(self) -> dict:
        """JSON-safe settings that rebuild the layer (weights are stored apart)."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        """The layer :meth:`get_config` describes (new weights)."""
        return cls(**config)


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

    def keep(self, x, keep: float, whole_vectors: bool = False):
        """A symbolic mask shaped like ``x`` ((time, batch, features) or (batch, features)), or with
        ``whole_vectors`` one entry per vector of ``x`` (a last axis of 1, broadcast over features)."""
        features = 1 if whole_vectors else x.type.shape[-1]
        mask = backend.tensor_input(f"dropout{len(self.inputs)}", "bool", x.type.shape[:-1] + (features,))
        self.inputs.append(mask)
        self._specs.append((keep, x.ndim, features))
        return mask

    @property
    def batch_axes(self) -> list[int]:
        """Each mask's batch axis: (time, batch, features) or (batch, features)."""
        return [1 if ndim == 3 else 0 for _, ndim, _ in self._specs]

    def draw(self, rng: np.random.Generator, length: int, batch: int) -> list[np.ndarray]:
        """Fresh masks for a batch of ``batch`` sequences padded to ``length`` steps."""
        masks = []
        for keep, ndim, features in self._specs:
            shape = (length, batch, features) if ndim == 3 else (batch, features)
            masks.append(rng.random(shape, dtype=np.float32) < keep)
        return masks


def init_name(init) -> str:
    """The config name of an initialiser given by name or object."""
    return init.lower() if isinstance(init, str) else inits.name_of(init)
