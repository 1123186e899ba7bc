"""Passage's training step with each batch split over two CPU devices (``PASSAGE_CPU_DEVICES=2``), by vocabulary.

The split runs each half of a batch's loop on its own core, but each device keeps a whole copy of
the embedding table and updates all of it (and its Adam state) every step: the larger the table, the
more of the gain that eats. This times the compiled training function of Embedding 128 -> GRU or LSTM
128 -> Dense(1), Adam, on one batch of 64 random sequences of 160 ids, for a small vocabulary and
popcorn's (43,207 words), on one device and on two, each in its own process (the device count is fixed
when JAX starts), the processes alternated ``--repeats`` times. Each figure: the median of 40 calls
after 3 warm-up calls, in ms per step.

    python benchmarks/bench_split.py
    python benchmarks/bench_split.py --layers GatedRecurrent --vocabularies 5001,43207 --repeats 3
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

BATCH, LENGTH, SIZE, CALLS = 64, 160, 128, 40


def child(layer: str, vocabulary: int) -> float:
    from passage import layers
    from passage.layers import Dense, Embedding
    from passage.models import RNN

    model = RNN([Embedding(SIZE, vocabulary), getattr(layers, layer)(SIZE), Dense(1, activation="sigmoid")],
                cost="bce", updater="Adam", seed=0, verbose=0)
    function, masks = model._function("train")
    rng = np.random.default_rng(0)
    x = rng.integers(1, vocabulary, (LENGTH, BATCH)).astype(np.int32)  # (T, B)
    arguments = [x, np.ones((LENGTH, BATCH), np.float32), rng.integers(0, 2, (BATCH, 1)).astype(np.float32)]
    for _ in range(3):
        np.asarray(function(*arguments))
    start = time.perf_counter()
    for _ in range(CALLS):
        np.asarray(function(*arguments))
    return (time.perf_counter() - start) / CALLS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", default="GatedRecurrent,LstmRecurrent")
    parser.add_argument("--vocabularies", default="5001,43207")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*json.loads(args.child))))
        return
    print(f"Passage's training step, Embedding {SIZE} -> layer {SIZE} -> Dense(1), Adam, a batch of {BATCH} x {LENGTH} "
          f"ids; ms per step on one device / on two (PASSAGE_CPU_DEVICES=2), {args.repeats} alternated processes each")
    for layer in args.layers.split(","):
        for vocabulary in (int(v) for v in args.vocabularies.split(",")):
            times = {1: [], 2: []}
            for _ in range(args.repeats):
                for devices in times:
                    command = [sys.executable, __file__, "--child", json.dumps([layer, vocabulary])]
                    environment = dict(os.environ, PASSAGE_CPU_DEVICES=str(devices))
                    done = subprocess.run(command, env=environment, check=True, capture_output=True, text=True)
                    times[devices].append(1e3 * json.loads(done.stdout.strip().splitlines()[-1]))
            one, two = (" ".join(f"{t:5.1f}" for t in times[d]) for d in times)
            gain = np.median(times[1]) / np.median(times[2])
            print(f"{layer:15} vocabulary {vocabulary:6,}   one device {one}   two {two}   {gain:4.2f}x", flush=True)


if __name__ == "__main__":
    main()
