"""Finding things by name: one :class:`Registry` per kind (activations, costs, inits, updaters, layers).

Names resolve case-insensitively. Configs store the registered name, and loading a file looks
names up only here, so a file can only ever name Passage's own classes and functions.
"""
from __future__ import annotations

__all__ = ["Registry"]


class Registry:
    """Entries (functions or classes) of one ``kind`` by name."""

    def __init__(self, kind: str, entries: dict):
        self.kind = kind
        self._entries = {name.lower(): entry for name, entry in entries.items()}

    def __contains__(self, name) -> bool:
        return str(name).lower() in self._entries

    def get(self, name):
        """The entry registered as ``name`` (case-insensitive)."""
        try:
            return self._entries[str(name).lower()]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of {sorted(self._entries)}") from None

    def resolve(self, identifier):
        """``identifier`` itself when it is callable (a function or class), else the entry of that name."""
        return identifier if callable(identifier) else self.get(identifier)

    def name_of(self, entry) -> str:
        """The name ``entry`` is registered under (the first, when it has several), for configs."""
        for name, registered in self._entries.items():
            if registered is entry:
                return name
        raise ValueError(f"{self.kind} {entry!r} has no registered name, so it cannot be saved in a config")
