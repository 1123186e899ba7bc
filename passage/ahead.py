"""Compiling ahead: XLA compiles the batch shapes a pass will meet on a background thread, while the
model trains (or predicts) on the shapes it has.

In JAX mode a compiled function is lowered and compiled by XLA once per input shape, the first time
it meets that shape; the length buckets keep the shapes few, but each new one stalls training for
its compile (about a second), or for reading the program from disk when an earlier run kept it
(:mod:`passage.executables`, about 17 ms at 128 units; before that cache, 0.1-0.3 s). A pass
knows its batches before it starts (the iterator's plan), so :class:`Ahead` hands the shapes it has
not met yet, in their order of first use, to one background thread, and the pass waits only for a
shape whose compile is not done when its first batch comes. The step mostly waits on XLA's kernels
with Python's lock released, so the compiles run beside it. It saves less than it might: a
shuffled epoch meets most of its shapes within its first batches (measured on real text, GRU 128:
the first epoch with a warm disk cache 8.5 s -> 8.1 s, warm epochs 6.2 s; README, "Compiling
ahead"). The other modes compile once for every shape: nothing to do.

``PASSAGE_COMPILE_AHEAD=0`` (read at import) turns it off: each shape compiles on its first call.
"""
from __future__ import annotations

import concurrent.futures
import logging
import os
import sys
import threading

import numpy as np

from passage import backend

__all__ = ["Ahead", "enabled"]

log = logging.getLogger("passage")

enabled = os.environ.get("PASSAGE_COMPILE_AHEAD", "1") != "0"
_worker: concurrent.futures.ThreadPoolExecutor | None = None


def _yield_to_training() -> None:
    """Lower the compile thread's scheduling priority (Linux, where a thread has its own): with a
    warm disk cache its work (then tracing and lowering; now reading programs) runs in the training's
    gaps instead of taking a core from it (GRU 128 on real text, first epoch 6.87-6.89 -> 6.63-6.69 s,
    two runs each, before programs were read from disk; with an empty cache no change: the pass waits
    for XLA's compiles either way)."""
    if sys.platform.startswith("linux"):
        thread = threading.get_native_id()
        try:
            os.setpriority(os.PRIO_PROCESS, thread, min(os.getpriority(os.PRIO_PROCESS, thread) + 10, 19))
        except OSError:
            pass


def _shape(arguments) -> tuple:
    return tuple(np.shape(a) for a in arguments)


class Ahead:
    """The background compiles of one pass of ``function``. ``examples`` yields ``(key,
    arguments)`` in the order the pass will meet them: ``key`` names the batch's shape (e.g.
    ``(length, batch size)``) and ``arguments()`` makes argument arrays of that shape; it is called
    only for keys not in ``handed``, the keys of ``function`` handed over before (the caller keeps
    this set with the function; passes add to it). Call :meth:`ready` with a batch's arguments
    before calling ``function`` on them; use it as a context manager, so that compiles not yet
    started are dropped when the pass ends early."""

    def __init__(self, function, examples, handed: set):
        self.futures: dict[tuple, tuple] = {}  # arguments' shapes -> (key, Future)
        self.handed = handed
        if not enabled or not backend.compiles_per_shape(function):
            return
        global _worker
        if _worker is None:
            _worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="passage-compile",
                                                            initializer=_yield_to_training)
        for key, arguments in examples:
            if key in self.handed:
                continue
            self.handed.add(key)
            made = arguments()
            self.futures[_shape(made)] = key, _worker.submit(backend.compile_for, function, made)

    def ready(self, arguments) -> None:
        """Wait until ``function`` is compiled for the shape of ``arguments``, if it is being compiled
        here. A compile that failed is left to the call itself, which reports the error."""
        key, future = self.futures.pop(_shape(arguments), (None, None))
        if future is not None:
            try:
                future.result()
            except Exception:  # noqa: BLE001 (the call compiles again and raises with PyTensor's context)
                log.debug("compiling ahead failed; the call compiles itself", exc_info=True)

    def __enter__(self) -> "Ahead":
        return self

    def __exit__(self, *exc) -> None:
        for key, future in self.futures.values():
            if future.cancel():
                self.handed.discard(key)  # a later pass hands it over again
