"""Keep the memory that compiled functions free, for their next call (Linux with glibc).

Every call of a compiled XLA function on the CPU takes its scratch space in one block: the whole
batch's pre-activations, states and their gradients, about 100 MB for a batch of 64 reviews of
200 words through a GRU 128. glibc's ``malloc`` serves a block that large with a fresh ``mmap`` and
gives it back to the system on ``free``, so each call faults its scratch space in again, page by
page, zeroed by the kernel: 15% of a GRU 128 training epoch on real text on a 2-core CPU (8.08 s
against 6.83 s, ``benchmarks/bench_malloc.py``). With one malloc arena, no ``mmap`` for large
blocks and a 1 GiB trim threshold, the block returns to the heap on ``free`` and the next call
reuses it.

What it costs, for the whole process: memory, the way JAX's GPU memory preallocation trades memory
for speed. Freed blocks stay in the heap for reuse (up to 1 GiB at its top before it is trimmed)
and large blocks of different sizes leave holes there, so resident memory is higher: training on
real text peaked at 1.31 GB against 0.94 GB (GRU 128; warm epochs 7.0 s against 8.6 s) and at
2.03 GB against 1.50 GB (GRU 512; 11.6 s against 12.0 s). ``PASSAGE_MALLOC=system`` (read when
Passage is imported; ``keep``, the default, is the above) leaves malloc as the system set it; so
does any C library other than glibc. ``PASSAGE_MALLOC=all`` never trims the heap: a call whose scratch
space is above 1 GiB (a batch of 64 reviews of 1,600 ids through a GRU 512 takes several GB) reuses it
too, and the process holds its largest call's memory until it exits (an epoch of 1,600-id sequences
through Embedding 256 -> GRU 512 took 9.9 s instead of 13.2; the talk's run, whose batches come in many
lengths, was no faster: docs/speed.md).
"""
from __future__ import annotations

import ctypes
import os
import sys

# mallopt's parameter numbers, from glibc's malloc.h
M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8
TRIM_THRESHOLDS = {"keep": 1 << 30, "all": -1}  # bytes of free memory kept at the heap's top; -1: never trimmed
SETTINGS = (*TRIM_THRESHOLDS, "system")  # the values of PASSAGE_MALLOC


def keep_freed_memory() -> bool:
    """Apply the settings above once, before the compiler's threads start; True when applied."""
    setting = os.environ.get("PASSAGE_MALLOC", "").lower() or "keep"
    if setting not in SETTINGS:
        raise ValueError(f"PASSAGE_MALLOC={setting!r} is not one of {', '.join(SETTINGS)}")
    if setting == "system" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018  (present in glibc only)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    # One arena: a thread's own arena would fall back to mmap for a block above its 64 MB heaps.
    applied = [mallopt(option, value) == 1 for option, value in
               ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, TRIM_THRESHOLDS[setting]))]
    return all(applied)
