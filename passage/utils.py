"""The 2015 library's home of ``save`` and ``load``: ``from passage.utils import save, load`` still works.

Files are no longer pickles: see :mod:`passage.serialization`.
"""
from passage.models import load, save

__all__ = ["save", "load"]
