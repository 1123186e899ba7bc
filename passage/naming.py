"""Finding functions by name, for the modules whose members are plain functions (activations, costs)."""
from __future__ import annotations

from typing import Callable

__all__ = ["lookup", "name_in"]


def lookup(table: dict[str, Callable], identifier, kind: str) -> Callable:
    """``table``'s entry for ``identifier`` (case-insensitive), or ``identifier`` itself if callable."""
    if callable(identifier):
        return identifier
    try:
        return table[str(identifier).lower()]
    except KeyError:
        raise ValueError(f"unknown {kind} {identifier!r}; choose one of {sorted(table)}") from None


def name_in(table: dict[str, Callable], function: Callable, kind: str) -> str:
    """The name ``function`` is registered under, for configs."""
    for name, entry in table.items():
        if entry is function:
            return name
    raise ValueError(f"{kind} {function!r} has no registered name, so it cannot be saved in a config")
