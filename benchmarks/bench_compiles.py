"""How much of a popcorn run is compiling: PyTensor's compiles (count, seconds), JAX/XLA's tracing,
lowering and compiling, and Passage's program cache's reads and compiles (events and seconds, from
jax.monitoring), with the on-disk cache as it is.

    python benchmarks/bench_compiles.py --quick     # any examples/popcorn.py arguments

Run it twice: the second run reads each program from Passage's disk cache (passage/executables.py)
without tracing it.
"""
import collections
import os
import sys
import time

import jax.monitoring

from passage import backend

events = collections.defaultdict(lambda: [0, 0.0])  # event -> [count, seconds]


def listen(event, duration, **_):
    events[event][0] += 1
    events[event][1] += duration


jax.monitoring.register_event_duration_secs_listener(listen)
pytensor_compiles = [0, 0.0]
compile_function = backend.function


def timed_function(*args, **kwargs):
    start = time.perf_counter()
    function = compile_function(*args, **kwargs)
    pytensor_compiles[0] += 1
    pytensor_compiles[1] += time.perf_counter() - start
    return function


backend.function = timed_function
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import popcorn  # noqa: E402

start = time.perf_counter()
popcorn.main(sys.argv[1:])
print(f"whole run {time.perf_counter() - start:.1f} s; PyTensor compiles: {pytensor_compiles[0]} "
      f"in {pytensor_compiles[1]:.1f} s")
for event, (count, seconds) in sorted(events.items()):
    if any(word in event for word in ("compile", "trace", "cache")):
        print(f"  {event}: {count} events, {seconds:.1f} s")
