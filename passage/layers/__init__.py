"""Layers. The first layer of a model reads its input (Embedding, OneHot, Generic); the rest map
activations to activations (SimpleRecurrent, GatedRecurrent, LstmRecurrent, Bidirectional, Pooling,
Dense).

Shapes are time-major: ids ``(time, batch)``, activations ``(time, batch, features)``; a
recurrent layer with ``seq_output=False`` returns its last state ``(batch, size)``. Every layer
receives the padding ``mask`` ``(time, batch)`` (1 for a real step, 0 for padding).

A layer declares its parameters (:meth:`Layer.param_specs`) and creates them once the size of its
input is known (:meth:`Layer.build`); then ``params`` holds its shared variables, named, in the
order that ``weights=`` and :meth:`Layer.get_weights` follow.

    base.py           Layer, Param, DropoutMasks
    inputs.py         Embedding, OneHot, Generic
    recurrent.py      SimpleRecurrent, GatedRecurrent, LstmRecurrent
    bidirectional.py  Bidirectional
    pooling.py        Pooling (max, mean, last over time, padding excluded)
    dense.py          Dense
"""
from __future__ import annotations

from typing import Sequence

from passage.layers.base import DropoutMasks, Layer, Param
from passage.layers.bidirectional import Bidirectional
from passage.layers.dense import Dense
from passage.layers.inputs import Embedding, Generic, InputLayer, OneHot
from passage.layers.pooling import Pooling
from passage.layers.recurrent import GatedRecurrent, LstmRecurrent, Recurrent, SimpleRecurrent
from passage.naming import Registry

__all__ = ["Layer", "Param", "DropoutMasks", "InputLayer", "Embedding", "OneHot", "Generic", "Recurrent",
           "SimpleRecurrent", "GatedRecurrent", "LstmRecurrent", "Bidirectional", "Pooling", "Dense", "get", "check_stack"]

REGISTRY = Registry("layer class", {cls.__name__: cls for cls in (
    Embedding, OneHot, Generic, SimpleRecurrent, GatedRecurrent, LstmRecurrent, Bidirectional, Pooling, Dense)})


def get(class_name: str, config: dict) -> Layer:
    """Rebuild a layer from its class name and :meth:`Layer.get_config` (no code from outside runs)."""
    cls = REGISTRY.get(class_name)
    if not isinstance(config, dict):
        raise ValueError(f"the config of a {class_name} layer must be a dict, got {type(config).__name__}")
    return cls.from_config(config)


def check_stack(layers: Sequence[Layer]) -> bool:
    """Fail early, with a fix, when layers cannot be stacked. Returns whether the model outputs one
    row per token (its last recurrent layer has ``seq_output=True`` and no Pooling follows, or it
    has neither) rather than one row per sequence."""
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
        if layer.is_recurrent:
            if not sequence:
                raise ValueError(f"{type(layer).__name__} needs sequences, but the recurrent layer before it "
                                 "has seq_output=False; set seq_output=True on all but the last recurrent layer")
            sequence = layer.seq_output
        elif isinstance(layer, Pooling):
            if not sequence:
                raise ValueError("Pooling needs sequences, but the recurrent layer before it has "
                                 "seq_output=False; set seq_output=True on it")
            sequence = False
    return sequence
