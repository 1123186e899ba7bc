"""Weight initialisers. Each is a class whose instances map (shape, rng) to a float64 array.

Callers cast to floatX (the layers do, in one place); a layer with several gates initialises
each gate's block on its own, so every block has the statistics stated here. :func:`get` finds an initialiser by name.
"""
from __future__ import annotations

import numpy as np

from passage.naming import Registry

__all__ = ["Uniform", "Normal", "Orthogonal", "Identity", "Glorot", "Constant", "get"]


class Uniform:
    """Uniform on [-scale, scale]."""

    def __init__(self, scale: float = 0.05):
        self.scale = scale

    def __call__(self, shape, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-self.scale, self.scale, size=shape)


class Normal:
    """Gaussian with mean 0 and standard deviation ``scale``."""

    def __init__(self, scale: float = 0.05):
        self.scale = scale

    def __call__(self, shape, rng: np.random.Generator) -> np.ndarray:
        return rng.normal(0.0, self.scale, size=shape)


class Orthogonal:
    """A (semi-)orthogonal matrix times ``scale`` (Saxe et al., 2013): the singular vectors of a
    Gaussian matrix, so either its rows or its columns are orthonormal. The default scale is the
    2015 library's 1.1: recurrent weights a little above norm 1 carry a signal over long spans."""

    def __init__(self, scale: float = 1.1):
        self.scale = scale

    def __call__(self, shape, rng: np.random.Generator) -> np.ndarray:
        if len(shape) != 2:
            raise ValueError(f"orthogonal init needs a 2-D shape, got {shape}")
        u, _, vt = np.linalg.svd(rng.normal(0.0, 1.0, size=shape), full_matrices=False)
        q = u if u.shape == tuple(shape) else vt  # (rows, cols) either way
        return self.scale * q


class Identity:
    """``scale`` times the identity (Le et al., 2015, for ReLU recurrent weights); square shapes only."""

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def __call__(self, shape, rng: np.random.Generator) -> np.ndarray:
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"identity init needs a square shape, got {shape}; for recurrent layers "
                             "use inner_init='identity' (it initialises the square recurrent weights)")
        return self.scale * np.eye(shape[0])


class Glorot:
    """Glorot & Bengio (2010) uniform: limit ``sqrt(6 / (fan_in + fan_out))``, variance
    ``2 / (fan_in + fan_out)``."""

    def __call__(self, shape, rng: np.random.Generator) -> np.ndarray:
        fan_in, fan_out = shape[0], shape[-1]
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)


class Constant:
    def __init__(self, value: float = 0.0):
        self.value = value

    def __call__(self, shape, rng: np.random.Generator) -> np.ndarray:
        return np.full(shape, self.value, dtype=np.float64)


REGISTRY = Registry("init", {"uniform": Uniform, "normal": Normal, "gaussian": Normal, "orthogonal": Orthogonal,
                             "identity": Identity, "glorot": Glorot, "glorot_uniform": Glorot,
                             "constant": Constant})


def get(identifier):
    """An initialiser from a name (case-insensitive), a class, or an instance."""
    found = REGISTRY.resolve(identifier)
    return found() if isinstance(found, type) else found


def name_of(init) -> str:
    """A config-safe name for ``init``; initialisers only matter before weights exist, so the
    default settings of the named class are what a config rebuilds."""
    return REGISTRY.name_of(type(init))
