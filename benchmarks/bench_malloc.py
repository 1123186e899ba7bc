"""What keeping freed memory (passage/malloc.py) gives: the real-text training epochs of
``bench_text.py``, Passage alone, in fresh processes with ``PASSAGE_MALLOC=system`` (glibc's own
way: each compiled call's scratch block mapped anew and faulted in page by page) and with Passage's
default (the block kept in the heap for the next call), alternating, ``--rounds`` times each.

Printed per cell: the median warm epoch (epochs 2 on) of each setting, the speed-up, and the minor
page faults per warm epoch. The compile cache is warm after the first run; run on an idle machine.

    python benchmarks/bench_malloc.py                     # GRU and LSTM 128, GRU 512, ~8 minutes
    python benchmarks/bench_malloc.py --cells gru128 --rounds 3
"""
from __future__ import annotations

import argparse
import os

import numpy as np
from bench_text import CELLS, run_child  # this folder is on the path when the script runs

SETTINGS = {"system": "system", "Passage": ""}  # printed name -> PASSAGE_MALLOC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default="gru128,lstm128,gru512", help=f"comma-separated, of {', '.join(CELLS)}")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run: the first, then warm ones")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each setting, alternating")
    args = parser.parse_args()
    print(f"{'cell':8} {'malloc':8} {'warm epoch s (per run)':>30} {'median':>7} {'faults/epoch':>13}")
    for cell in args.cells.split(","):
        warm = {name: [] for name in SETTINGS}
        for _ in range(args.rounds):
            for name, value in SETTINGS.items():
                run = run_child("passage", cell, args.epochs, dict(os.environ, PASSAGE_MALLOC=value))
                warm[name].append((float(np.median(run["times"][1:])), float(np.median(run["faults"][1:]))))
        for name, runs in warm.items():
            seconds = [s for s, _ in runs]
            print(f"{cell:8} {name:8} {', '.join(f'{s:.2f}' for s in seconds):>30} {np.median(seconds):7.2f} "
                  f"{np.median([f for _, f in runs]):13,.0f}")
        print(f"{cell:8} speed-up of keeping freed memory: "
              f"{np.median([s for s, _ in warm['system']]) / np.median([s for s, _ in warm['Passage']]):.2f}x")


if __name__ == "__main__":
    main()
