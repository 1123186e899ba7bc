"""What PyTensor's ``local_second_to_alloc`` rewrite costs the JAX mode's compile (README, Speed).

    python benchmarks/bench_rewrite.py            # 5 fresh processes per setting and model, alternating

Builds popcorn's default model (Embedding 128, GRU 128 with pooling max + mean, adversarial training;
the estimator's defaults) and the same read both ways (``popcorn --bidirectional``'s classifier), and times
building + compiling its training function with the rewrite left out (Passage's JAX mode) and put
back. Each measurement runs in a fresh process, so no cache of an earlier graph helps.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def child(setting: str, both_ways: bool) -> None:
    from passage import backend
    from passage.layers import Bidirectional, Dense, Embedding, GatedRecurrent, Pooling
    from passage.models import RNN

    if setting == "with":  # Passage's JAX mode with this one rewrite put back
        excluded = tuple(r for r in backend.JAX_EXCLUDED_REWRITES if r != "local_second_to_alloc")
        passages_mode = backend._jax_mode
        backend._jax_mode = lambda: passages_mode(excluded)
    recurrent = GatedRecurrent(128, seq_output=True, p_drop=0.5)
    model = RNN([Embedding(128, 20000, adversarial=0.05), Bidirectional(recurrent) if both_ways else recurrent,
                 Pooling(("max", "mean")), Dense(1, activation="sigmoid")], cost="bce", seed=0, verbose=0)
    start = time.time()
    model._function("train")
    print(time.time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1] == "both")
        return
    for model in ("forward", "both"):
        seconds = {"with": [], "without": []}
        for _ in range(args.runs):
            for setting in ("with", "without"):
                out = subprocess.run([sys.executable, __file__, "--child", setting, model],
                                     capture_output=True, text=True, check=True).stdout
                seconds[setting].append(float(out.split()[-1]))
        for setting, times in seconds.items():
            print(f"{model:8s} {setting:8s} local_second_to_alloc: training function built + compiled in "
                  f"{min(times):.1f}-{max(times):.1f} s (median {statistics.median(times):.1f}; {args.runs} processes)")


if __name__ == "__main__":
    main()
