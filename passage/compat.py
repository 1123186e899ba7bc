"""Older spellings that still work: files of earlier format versions, and the 2015 library's names.

A program written for the 2015 library runs unchanged and means what it meant; where today's
spelling differs, the old one logs one line naming the new (:func:`deprecated`). Files written by
earlier versions of this library are read as what they meant when written (:func:`upgraded`).
"""
from __future__ import annotations

import copy
import logging

__all__ = ["deprecated", "upgraded"]

log = logging.getLogger("passage")
_said: set[str] = set()


def deprecated(spelling: str, today: str) -> None:
    """Log once per process that ``spelling`` (a 2015 form) is written ``today`` now."""
    if spelling not in _said:
        _said.add(spelling)
        log.warning("%s is the 2015 spelling; today's is %s", spelling, today)


def upgraded(config: dict) -> dict:
    """A model file's configuration in today's terms (a copy). Format version 1 (files written before
    the 2015 meanings were restored) named ``hard_sigmoid`` for ``clip(0.2 x + 0.5, 0, 1)``, today's
    ``theano_hard_sigmoid``, and stored Adam's decay rates as ``b1``/``b2``, today's ``beta1``/``beta2``.
    Versions 1 and 2 took Pooling's 'last' at the last real step for every feature, a backward
    reader's too: today's ``Pooling(backward=0)``."""
    config = copy.deepcopy(config)
    if config.get("version", 3) < 3:
        for layer in config.get("model", {}).get("layers", []):
            if isinstance(layer, dict) and layer.get("class") == "Pooling" and isinstance(layer.get("config"), dict):
                layer["config"].setdefault("backward", 0)
    if config.get("version", 2) < 2:
        _rename_hard_sigmoid(config.get("model", {}).get("layers", []))
        updater = config.get("model", {}).get("updater", {})
        if updater.get("class", "").lower() == "adam":
            settings = updater.get("config", {})
            for old, new in (("b1", "beta1"), ("b2", "beta2")):
                if old in settings:
                    settings[new] = settings.pop(old)
    return config


def _rename_hard_sigmoid(node) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("activation", "gate_activation") and isinstance(value, str) and value.lower() == "hard_sigmoid":
                node[key] = "theano_hard_sigmoid"
            else:
                _rename_hard_sigmoid(value)
    elif isinstance(node, list):
        for item in node:
            _rename_hard_sigmoid(item)
