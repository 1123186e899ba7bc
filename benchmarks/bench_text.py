"""Training speed on real text: IMDB reviews, Passage against PyTorch and Keras 3 (JAX) in the same run.

The workload of issue 14's table: the first N IMDB training reviews through the popcorn tokenizer
(clean, min_df 10, at most 100,000 words, reviews cut to 400 ids), Embedding -> GRU or LSTM -> Dense(1,
sigmoid), binary cross-entropy, Adam 0.001, batches of 64 that Passage's SortedPadded iterator makes
(length-sorted, shuffled). Every framework trains on the same batches:

* Passage: its own padded batches (lengths bucketed to 8, 10, 12, 14, 16, 20, ...), timed through
  ``fit``; run twice in fresh processes, first with an empty compile cache (``cold``), then with the
  cache the first run left (``warm cache``, what a user sees from the second run on).
* PyTorch: each batch padded only to its own longest review, the last real state taken with a
  gather (``padded``); Passage's bucketed batches, so that oneDNN meets a few shapes again and again
  instead of a new one nearly every batch (``bucketed``); and ``pack_padded_sequence`` (``packed``,
  what tutorials teach; at 128 units only unless ``--packed``: at 512 it takes minutes an epoch).
* Keras 3 on JAX (``KERAS_BACKEND=jax``; no TensorFlow needed), ``mask_zero=True``: Passage's bucketed
  batches (one XLA compile per bucket, as ours; a length per batch would recompile each batch).

Printed per cell: the first epoch (compiles included) and the median of the warm epochs after it,
each peer's warm epoch over Passage's (one ratio per ``--devices`` entry, in its order), and how many
functions Passage's PyTensor compiled.

On a GPU (a CUDA build of jax and of PyTorch) every framework runs there: PyTorch's GRU and LSTM are
cuDNN's. ``--precision`` puts the float32 matrix products of all frameworks at one precision
(``benchmarks/precision.py``: PyTorch's cuDNN layers use TF32 by default, Passage float32), or rounds
their inputs to bfloat16 (``--precision bfloat16``, also on a CPU);
``--batch`` changes the batch size of every framework.

    python benchmarks/bench_text.py                   # GRU and LSTM at 128 and 512 units, ~25 minutes
    python benchmarks/bench_text.py --cells gru128    # one cell
    python benchmarks/bench_text.py --peers keras     # only some peers ("": Passage alone; torch padded, torch bucketed,
                                                      # torch packed, keras)
    python benchmarks/bench_text.py --cells gru128 --batch 256 --precision float32   # on a GPU
    python benchmarks/bench_text.py --cells gru128 --devices 1,2   # also with each batch split over 2 CPU devices
    python benchmarks/bench_text.py --cells gru512 --precision bfloat16   # products' inputs in bfloat16 (all)

Needs ``pip install .[bench]`` (PyTorch, Keras) for the peers; without them only Passage runs.
Run it on an idle machine, nothing else running (two busy processes on two cores ruin both figures).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

import precision

BATCH, MAX_LEN, EMBEDDING = 64, 400, 128
CELLS = {"gru128": ("GatedRecurrent", 128, 4000), "lstm128": ("LstmRecurrent", 128, 4000),
         "gru512": ("GatedRecurrent", 512, 1000), "lstm512": ("LstmRecurrent", 512, 1000)}
PEERS = ("torch padded", "torch bucketed", "torch packed", "keras")


def workload(reviews: int):
    """``(X, Y, n_features)``: the first ``reviews`` IMDB training reviews as popcorn ids, and labels."""
    from passage.datasets import load_imdb
    from passage.preprocessing import Tokenizer, clean

    (texts, labels), _ = load_imdb()
    texts = [clean(t) for t in texts[:reviews]]
    tokenizer = Tokenizer(min_df=10, max_features=100000, max_len=MAX_LEN)
    return tokenizer.fit_transform(texts), np.asarray(labels[:reviews], dtype=np.float32), tokenizer.n_features


def epoch_batches(X, epoch: int, batch: int):
    """Passage's SortedPadded training batches for ``epoch``: ``(indices, x (T, B), mask (T, B))``."""
    from passage.iterators import SortedPadded

    return list(SortedPadded(batch).train(X, np.random.default_rng(epoch)))


def passage_child(cell: str, epochs: int, batch: int) -> dict:
    from passage import layers
    from passage.backend import device
    from passage.layers import Dense, Embedding
    from passage.models import RNN

    layer, hidden, reviews = CELLS[cell]
    X, Y, n_features = workload(reviews)
    model = RNN([Embedding(EMBEDDING, n_features), getattr(layers, layer)(hidden), Dense(1, activation="sigmoid")],
                cost="bce", updater="Adam", verbose=0, seed=0)
    times, faults = [], []
    for _ in range(epochs):
        start, faulted = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        model.fit(X, Y, batch_size=batch, n_epochs=1)
        times.append(time.perf_counter() - start)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faulted)
    ids = sum(len(x) for x in X)
    return {"times": times, "faults": faults, "functions": len(model._functions), "ids": ids, "device": device()}


def torch_times(cell: str, epochs: int, batch: int, packed: bool, bucketed: bool) -> list[float]:
    import torch
    torch.set_flush_denormal(True)  # as XLA's CPU runtime does; unflushed, a GRU 512 backward took 10 s, not 0.35 s
    precision.apply_to_torch(torch)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    layer, hidden, reviews = CELLS[cell]
    X, Y, n_features = workload(reviews)
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(n_features, EMBEDDING)
    recurrent = {"GatedRecurrent": torch.nn.GRU, "LstmRecurrent": torch.nn.LSTM}[layer](EMBEDDING, hidden)
    dense = torch.nn.Linear(hidden, 1)
    embedding, recurrent, dense = embedding.to(device), recurrent.to(device), dense.to(device)
    parameters = [*embedding.parameters(), *recurrent.parameters(), *dense.parameters()]
    optimizer, loss = torch.optim.Adam(parameters, lr=0.001), torch.nn.BCEWithLogitsLoss()

    def step(indices, x, mask):
        lengths = mask.sum(axis=0).astype(np.int64)
        ids = torch.as_tensor(x if bucketed else x[:lengths.max()], dtype=torch.long, device=device)
        with precision.autocast(torch, device):
            inputs = embedding(ids)
            if packed:  # lengths stay on the CPU, as pack_padded_sequence asks
                sequence = torch.nn.utils.rnn.pack_padded_sequence(inputs, torch.as_tensor(lengths),
                                                                   enforce_sorted=False)
                _, final = recurrent(sequence)
                last = (final[0] if isinstance(final, tuple) else final)[-1]  # (B, hidden)
            else:
                states, _ = recurrent(inputs)  # (T, B, hidden)
                last = states[torch.as_tensor(lengths - 1, device=device), torch.arange(len(lengths), device=device)]
            logits = dense(last)
        optimizer.zero_grad()
        cost = loss(logits.float(), torch.as_tensor(Y[indices], device=device)[:, None])
        cost.backward()
        optimizer.step()

    times = []
    for epoch in range(epochs):
        batches = epoch_batches(X, epoch, batch)
        start = time.perf_counter()
        for one in batches:
            step(*one)
        if device == "cuda":
            torch.cuda.synchronize()  # the epoch ends when its last step has run, not when it was queued
        times.append(time.perf_counter() - start)
    return times


def keras_times(cell: str, epochs: int, batch: int) -> list[float]:
    os.environ["KERAS_BACKEND"] = "jax"
    import keras

    layer, hidden, reviews = CELLS[cell]
    X, Y, n_features = workload(reviews)
    keras.utils.set_random_seed(0)
    recurrent = {"GatedRecurrent": keras.layers.GRU, "LstmRecurrent": keras.layers.LSTM}[layer](hidden)
    model = keras.Sequential([keras.Input((None,), dtype="int32"),
                              keras.layers.Embedding(n_features, EMBEDDING, mask_zero=True), recurrent,
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="binary_crossentropy")
    times = []
    for epoch in range(epochs):
        batches = epoch_batches(X, epoch, batch)
        start = time.perf_counter()
        for indices, x, _ in batches:
            model.train_on_batch(x.T, Y[indices][:, None])  # batch-major; id 0 is padding
        times.append(time.perf_counter() - start)
    return times


def child(kind: str, cell: str, epochs: int, batch: int) -> dict:
    if kind == "passage":
        return passage_child(cell, epochs, batch)
    if kind == "keras":
        return {"times": keras_times(cell, epochs, batch)}
    return {"times": torch_times(cell, epochs, batch, packed=kind == "torch packed", bucketed=kind == "torch bucketed")}


def run_child(kind: str, cell: str, epochs: int, batch: int, environment=None) -> dict | None:
    command = [sys.executable, __file__, "--child", json.dumps([kind, cell, epochs, batch])]
    environment = dict(environment or os.environ, KERAS_BACKEND="jax")
    done = subprocess.run(command, capture_output=True, text=True, env=environment)
    if done.returncode != 0:
        print(f"  {kind}: failed ({done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode})")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def available(module: str) -> bool:
    environment = dict(os.environ, KERAS_BACKEND="jax")  # Keras would look for TensorFlow otherwise
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, env=environment).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default=",".join(CELLS), help=f"comma-separated, of {', '.join(CELLS)}")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run: the first, then warm ones")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated, of " + ", ".join(PEERS))
    parser.add_argument("--packed", action="store_true", help="PyTorch's packed sequences at 512 units too")
    parser.add_argument("--batch", type=int, default=BATCH, help="sequences per batch")
    parser.add_argument("--devices", type=lambda text: [int(n) for n in text.split(",")], default=[1],
                        help="Passage's runs, by CPU devices a batch is split over (PASSAGE_CPU_DEVICES), e.g. 1,2; "
                             "the peers' ratios are against the first")
    precision.add_argument(parser)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*json.loads(args.child))))
        return
    products = precision.choose(args.precision)
    peers = [p for p in args.peers.split(",") if p and available("keras" if p == "keras" else "torch")]
    print(f"IMDB reviews (popcorn tokenizer, cut to {MAX_LEN} ids), Embedding {EMBEDDING}, batches of {args.batch}, "
          f"Adam; seconds per epoch; warm = median of epochs 2..{args.epochs}; matrix products: {products}")
    print(f"{'cell':9}{'reviews':>8}{'ids':>9}  {'run':31}{'first':>8}{'warm':>8}{'warm / Passage':>16}")
    for cell in args.cells.split(","):
        _, _, reviews = CELLS[cell]
        ours = {}  # warm epoch by device count

        def row(name, times, ids):  # printed as soon as measured: a run stopped midway keeps the rows before
            warm = float(np.median(times[1:]))
            ratio = "" if name.startswith("Passage") else " / ".join(f"{warm / w:.2f}x" for w in ours.values())
            print(f"{cell:9}{reviews:8,}{ids:9,}  {name:31}{times[0]:8.1f}{warm:8.1f}{ratio:>16}", flush=True)

        for devices in args.devices:
            with tempfile.TemporaryDirectory() as cache:
                environment = dict(os.environ, XDG_CACHE_HOME=cache, PASSAGE_CPU_DEVICES=str(devices))
                cold = run_child("passage", cell, args.epochs, args.batch, environment)
                warm_cache = run_child("passage", cell, args.epochs, args.batch, environment)
            if cold is None or warm_cache is None:
                continue
            warm = ours[devices] = float(np.median(cold["times"][1:] + warm_cache["times"][1:]))
            ids = cold["ids"]
            split = "" if devices == 1 else f", {devices} devices"
            row(f"Passage{split}, cold cache", cold["times"], ids)
            row(f"Passage{split}, warm cache", warm_cache["times"], ids)
            print(f"{'':28}Passage compiled {cold['functions']} PyTensor functions; first epoch / warm epoch: "
                  f"{cold['times'][0] / warm:.2f} (cold cache), {warm_cache['times'][0] / warm:.2f} (warm cache); "
                  f"warm epoch / the first run's: {warm / next(iter(ours.values())):.2f}; ran on {cold['device']}",
                  flush=True)
        if not ours:
            continue
        for peer in peers:
            if peer == "torch packed" and CELLS[cell][1] > 128 and not args.packed:
                continue
            measured = run_child(peer, cell, 2 if peer == "torch packed" else args.epochs, args.batch)
            if measured:
                row(peer, measured["times"], ids)

if __name__ == "__main__":
    main()
