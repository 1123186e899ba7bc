"""Training memory follows the batch (its size x its longest sequence), not the dataset.

Sequence lengths are drawn from a long-tailed (log-normal) distribution like IMDB reviews' (median
~170 ids, a tail past 2,000). Each configuration trains one epoch in a fresh process and reports
its peak resident memory (RSS). Datasets of every size hold one sequence of the longest length
(2,000 ids), so their largest batch is the same: growing the dataset 16x barely moves the peak; a
shorter longest sequence or a smaller batch lowers it, a larger batch raises it.

    python benchmarks/bench_memory.py            # about 5 minutes on 2 cores
    python benchmarks/bench_memory.py --quick    # smaller datasets, about 2 minutes
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

EMBEDDING, HIDDEN, VOCABULARY = 32, 64, 5000


def lengths(n: int, rng: np.random.Generator, longest: int) -> np.ndarray:
    """Log-normal lengths cut at ``longest``; one sequence is exactly ``longest`` long, so datasets of
    every size hold the same longest batch and differ only in how many batches they have."""
    drawn = np.clip(rng.lognormal(mean=5.15, sigma=0.75, size=n).astype(int), 1, longest)
    drawn[0] = longest
    return drawn


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(n: int, batch_size: int, longest: int) -> dict:
    """Train one epoch; report memory before and at peak (runs in its own process)."""
    from passage.layers import Dense, Embedding, GatedRecurrent
    from passage.models import RNN

    rng = np.random.default_rng(0)
    X = [rng.integers(2, VOCABULARY, k).astype(np.int32) for k in lengths(n, rng, longest)]
    Y = rng.integers(0, 2, n)
    model = RNN([Embedding(EMBEDDING, VOCABULARY), GatedRecurrent(HIDDEN), Dense(1, activation="sigmoid")],
                verbose=0, seed=0)
    before = current_rss_mb()
    start = time.time()
    model.fit(X, Y, batch_size=batch_size, n_epochs=1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    longest_seen = max(len(x) for x in X)
    return {"n": n, "batch": batch_size, "longest": longest_seen, "tokens": int(sum(len(x) for x in X)),
            "before_mb": before, "peak_mb": peak, "seconds": time.time() - start,
            "data_mb": sum(x.nbytes for x in X) / 2**20}


def run(n: int, batch_size: int, longest: int) -> dict:
    output = subprocess.run([sys.executable, __file__, "--child", str(n), str(batch_size), str(longest)],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    sizes = (500, 2000, 8000) if args.quick else (1000, 4000, 16000)
    configurations = [(n, 64, 2000) for n in sizes]
    configurations += [(sizes[1], 64, 500), (sizes[1], 16, 2000), (sizes[1], 256, 2000)]
    print(f"Embedding {EMBEDDING} -> GRU {HIDDEN} -> Dense, one epoch per fresh process, log-normal lengths")
    print(f"{'sequences':>9} {'batch':>5} {'longest':>7} {'tokens':>9} {'data MB':>7} {'RSS before':>10} "
          f"{'peak RSS':>8} {'training':>8}   {'whole set padded':>16}")
    for n, batch_size, longest in configurations:
        r = run(n, batch_size, longest)
        padded = r["n"] * r["longest"] * HIDDEN * 4 / 2**20  # one (T, N, hidden) float32 tensor
        print(f"{r['n']:>9,} {r['batch']:>5} {r['longest']:>7} {r['tokens']:>9,} {r['data_mb']:>7.1f} "
              f"{r['before_mb']:>7.0f} MB {r['peak_mb']:>5.0f} MB {r['seconds']:>6.0f} s   {padded:>13,.0f} MB")
    print("'whole set padded': the size of one hidden-state tensor if all sequences were padded into one batch.")


if __name__ == "__main__":
    main()
