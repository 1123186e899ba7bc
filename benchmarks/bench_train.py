"""Seconds per training step of Passage's recurrent layers (Embedding 256 -> RNN 512 -> Dense, BCE, Adam;
batch 64, length 200, vocabulary 20,000, float32), with the backend mode that ran it.

    python benchmarks/bench_train.py [--layers GatedRecurrent LstmRecurrent] [--steps 5]

Run it on an idle machine: two busy processes on two cores slow each other several-fold.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from passage import backend, layers
from passage.layers import Dense, Embedding
from passage.models import RNN

VOCABULARY, EMBEDDING, HIDDEN, BATCH, LENGTH = 20000, 256, 512, 64, 200


def step_seconds(layer_name: str, n_steps: int) -> tuple[float, float]:
    """(compile + first step seconds, median seconds of the next ``n_steps`` steps)."""
    recurrent = getattr(layers, layer_name)(size=HIDDEN)
    model = RNN([Embedding(EMBEDDING, VOCABULARY), recurrent, Dense(1, activation="sigmoid")], seed=0)
    rng = np.random.default_rng(0)
    x = rng.integers(1, VOCABULARY, (LENGTH, BATCH)).astype(np.int32)  # (T, B)
    mask = np.ones((LENGTH, BATCH), dtype=np.float32)
    y = rng.integers(0, 2, (BATCH, 1)).astype(np.float32)
    start = time.perf_counter()
    train = model._function("train", LENGTH, BATCH)
    float(train(x, mask, y))
    first = time.perf_counter() - start
    times = []
    for _ in range(n_steps):
        start = time.perf_counter()
        float(train(x, mask, y))  # float() waits for JAX's asynchronous result
        times.append(time.perf_counter() - start)
    return first, float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", nargs="+", default=["GatedRecurrent", "LstmRecurrent", "SimpleRecurrent"])
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    print(f"mode {backend.mode()}; batch {BATCH}, length {LENGTH}, embedding {EMBEDDING}, hidden {HIDDEN}")
    print(f"{'layer':18s}{'compile+1st s':>15s}{'s/step':>10s}{'tokens/s':>12s}")
    for name in args.layers:
        first, step = step_seconds(name, args.steps)
        print(f"{name:18s}{first:15.1f}{step:10.3f}{BATCH * LENGTH / step:12.0f}")


if __name__ == "__main__":
    main()
