"""Training and prediction speed of Passage's recurrent layers, against the machine's peak and PyTorch.

For GRU (the 2015 equations, and ``reset_after=True``), LSTM and SimpleRecurrent at a large
(embedding 256, hidden 512) and a small (128/128)
configuration, batch 64, length 200, vocabulary 20,000, BCE, Adam, float32, it prints: training and
prediction tokens per second, achieved GFLOP/s, compile seconds with a cold and a warm compile
cache, and peak memory; in the same run numpy's float32 matrix product (the practical peak), and
PyTorch's nn.GRU / nn.LSTM / nn.RNN and Keras 3's GRU / LSTM / SimpleRNN on JAX with the same sizes
when they are installed (`pip install .[bench]`). Then, on the IMDB reviews: padding left by the sorted batches, how many reviews per
second a trained-size popcorn model scores, and TF-IDF + logistic regression's fitting time next
to one RNN epoch (the talk's "RNN is about 250x slower on CPU than a linear model").

    python benchmarks/bench_train.py            # about 5 minutes on 2 cores
    python benchmarks/bench_train.py --quick    # the large configuration's GRUs and LSTM only
    python benchmarks/bench_train.py --quick --layers GatedRecurrent --precision tf32   # on a GPU (precision.py)

Run it on an idle machine: two busy processes on two cores slow each other several-fold.
Each Passage measurement runs in a fresh process, so compile times and peak memory are its own.
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

VOCABULARY, BATCH, LENGTH = 20000, 64, 200
CONFIGURATIONS = {"large": (256, 512), "small": (128, 128)}
GATES = {"GatedRecurrent": 3, "GRU reset_after": 3, "LstmRecurrent": 4, "SimpleRecurrent": 1}
TORCH_NAMES = {"GatedRecurrent": "GRU", "GRU reset_after": "GRU", "LstmRecurrent": "LSTM", "SimpleRecurrent": "RNN"}
KERAS_NAMES = {"GatedRecurrent": "GRU", "GRU reset_after": "GRU", "LstmRecurrent": "LSTM", "SimpleRecurrent": "SimpleRNN"}


def passage_layer(layer: str, hidden: int):
    """Our layer for a row of the table: "GRU reset_after" is GatedRecurrent(reset_after=True)."""
    from passage import layers

    if layer == "GRU reset_after":
        return layers.GatedRecurrent(size=hidden, reset_after=True)
    return getattr(layers, layer)(size=hidden)


def train_gflop_per_token(layer: str, embedding: int, hidden: int) -> float:
    """Matrix-product work of one token in training: the forward products (input and recurrent,
    2 flops per multiply-add) and the backward pass's two products per forward one."""
    forward = 2 * (embedding + hidden) * GATES[layer] * hidden
    return 3 * forward / 1e9


def batch(rng: np.random.Generator):
    x = rng.integers(2, VOCABULARY, (LENGTH, BATCH)).astype(np.int32)  # (T, B)
    mask = np.ones((LENGTH, BATCH), dtype=np.float32)
    y = rng.integers(0, 2, (BATCH, 1)).astype(np.float32)
    return x, mask, y


def median_seconds(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def passage_child(layer: str, embedding: int, hidden: int, steps: int, compile_only: bool) -> dict:
    """One Passage measurement (run in its own process by :func:`measure_passage`)."""
    from passage import backend
    from passage.layers import Dense, Embedding
    from passage.models import RNN

    model = RNN([Embedding(embedding, VOCABULARY), passage_layer(layer, hidden),
                 Dense(1, activation="sigmoid")], seed=0, verbose=0)
    rng = np.random.default_rng(0)
    x, mask, y = batch(rng)
    start = time.perf_counter()
    train, masks = model._function("train")
    float(train(x, mask, y, *masks.draw(rng, LENGTH, BATCH)))  # float() waits for JAX's asynchronous result
    compile_train = time.perf_counter() - start
    start = time.perf_counter()
    predict, _ = model._function("predict")
    np.asarray(predict(x, mask))
    compile_predict = time.perf_counter() - start
    result = {"compile": compile_train + compile_predict, "device": backend.device()}
    if " on gpu" in result["device"]:  # the GPU's own float32 matrix product is the peak to compare with
        import jax.numpy as jnp

        a = jnp.asarray(rng.random((8192, 8192), dtype=np.float32))
        (a @ a).block_until_ready()
        result["device_peak"] = 2 * 8192**3 / median_seconds(lambda: (a @ a).block_until_ready(), 10) / 1e9
    if not compile_only:
        result["train_s"] = median_seconds(lambda: float(train(x, mask, y, *masks.draw(rng, LENGTH, BATCH))), steps)
        result["predict_s"] = median_seconds(lambda: np.asarray(predict(x, mask)), steps)
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def measure_passage(layer: str, embedding: int, hidden: int, steps: int) -> dict:
    """Cold compile (empty cache) with the timings, then a warm compile in a second fresh process."""
    with tempfile.TemporaryDirectory() as cache:
        environment = dict(os.environ, XDG_CACHE_HOME=cache)
        results = []
        for compile_only in (False, True):
            command = [sys.executable, __file__, "--child", json.dumps([layer, embedding, hidden, steps, compile_only])]
            output = subprocess.run(command, check=True, capture_output=True, text=True, env=environment).stdout
            results.append(json.loads(output.strip().splitlines()[-1]))
    cold, warm = results
    return {**cold, "compile_cold": cold["compile"], "compile_warm": warm["compile"]}


def measure_torch(layer: str, embedding: int, hidden: int, steps: int) -> dict | None:
    """PyTorch's own recurrent layer in the same model and step, or None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_flush_denormal(True)  # as XLA's CPU runtime does; unflushed, a GRU 512 backward took 10 s, not 0.35 s
    precision.apply_to_torch(torch)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(VOCABULARY, embedding)
            self.recurrent = getattr(torch.nn, TORCH_NAMES[layer])(embedding, hidden)
            self.output = torch.nn.Linear(hidden, 1)

        def forward(self, ids):  # (T, B)
            with precision.autocast(torch, device):
                states, _ = self.recurrent(self.embedding(ids))  # (T, B, hidden)
                return self.output(states[-1]).float()  # (B, 1)

    torch.manual_seed(0)
    model = Model().to(device)
    optimizer = torch.optim.Adam(model.parameters())
    loss = torch.nn.BCEWithLogitsLoss()
    x, _, y = batch(np.random.default_rng(0))
    ids, labels = torch.as_tensor(x, dtype=torch.long, device=device), torch.as_tensor(y, device=device)

    def train():
        optimizer.zero_grad()
        cost = loss(model(ids), labels)
        cost.backward()
        optimizer.step()
        cost.item()  # waits for the step

    def predict():
        with torch.no_grad():
            model(ids).cpu()

    train()
    predict()
    return {"train_s": median_seconds(train, steps), "predict_s": median_seconds(predict, steps),
            "version": torch.__version__, "device": device}


def measure_keras(layer: str, embedding: int, hidden: int, steps: int) -> dict | None:
    """Keras 3 on JAX (the same XLA as ours) with the same model and batch, in its own process; None
    without Keras. Its GRU is the reset_after variant (one recurrent product per step)."""
    command = [sys.executable, __file__, "--keras-child", json.dumps([layer, embedding, hidden, steps])]
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, KERAS_BACKEND="jax"))
    return json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None


def keras_child(layer: str, embedding: int, hidden: int, steps: int) -> dict:
    import keras

    keras.utils.set_random_seed(0)
    cell = getattr(keras.layers, KERAS_NAMES[layer])(hidden)
    model = keras.Sequential([keras.Input((LENGTH,), batch_size=BATCH, dtype="int32"),
                              keras.layers.Embedding(VOCABULARY, embedding), cell, keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    x, _, y = batch(np.random.default_rng(0))
    start = time.perf_counter()
    model.train_on_batch(x.T, y)  # batch-major; returns the loss, so it has waited
    compile_train = time.perf_counter() - start
    start = time.perf_counter()
    model.predict_on_batch(x.T)
    compile_predict = time.perf_counter() - start
    return {"train_s": median_seconds(lambda: model.train_on_batch(x.T, y), steps),
            "predict_s": median_seconds(lambda: model.predict_on_batch(x.T), steps),
            "compile": compile_train + compile_predict, "version": keras.__version__}


def matmul_gflops() -> float:
    """numpy's float32 matrix product, best of 5: the machine's practical peak."""
    rng = np.random.default_rng(0)
    a, b = rng.random((2048, 2048), dtype=np.float32), rng.random((2048, 2048), dtype=np.float32)
    a @ b
    return 2 * 2048**3 / min(median_seconds(lambda: a @ b, 1) for _ in range(5)) / 1e9


def imdb_figures(gru_large_tokens_per_s: float) -> None:
    """Padding of sorted batches, popcorn-model scoring speed, TF-IDF + LR against one RNN epoch."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from passage.datasets import load_imdb
    from passage.iterators import SortedPadded, pad
    from passage.layers import Dense, Embedding, GatedRecurrent
    from passage.models import RNN
    from passage.preprocessing import Tokenizer, clean

    (train_texts, trY), (test_texts, _) = load_imdb()
    train_texts = [clean(t) for t in train_texts]
    all_texts = train_texts + [clean(t) for t in test_texts]
    tokenizer = Tokenizer(min_df=10, max_features=100000)
    trX = tokenizer.fit_transform(train_texts)
    tokens = sum(len(x) for x in trX)
    rng = np.random.default_rng(0)
    real = cells = naive_cells = 0
    for _, x, mask in SortedPadded(BATCH).train(trX, rng):
        real, cells = real + mask.sum(), cells + mask.size
    order = rng.permutation(len(trX))
    for start in range(0, len(order), BATCH):
        naive_cells += pad([trX[i] for i in order[start:start + BATCH]], max(len(trX[i]) for i in order[start:start + BATCH]))[1].size
    print(f"\nIMDB, {len(trX):,} training reviews, {tokens:,} ids (mean {tokens / len(trX):.0f}):")
    print(f"  padding: sorted buckets {1 - real / cells:.1%} of batch cells; random batches padded to their "
          f"longest {1 - real / naive_cells:.1%}")

    popcorn = Tokenizer(min_df=10, max_features=100000, max_len=400)
    popcorn.fit(train_texts)
    X = popcorn.transform(all_texts)
    model = RNN([Embedding(128, popcorn.n_features), GatedRecurrent(128), Dense(1, activation="sigmoid")],
                verbose=0, seed=0)
    start = time.perf_counter()
    model.predict(X)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    model.predict(X)
    warm = time.perf_counter() - start
    print(f"  scoring {len(X):,} reviews with the popcorn model (Embedding 128, GRU 128, reviews cut to 400 ids): "
          f"{len(X) / warm:,.0f} reviews/s ({warm:.1f} s; first call with compiles {cold:.1f} s)")

    start = time.perf_counter()
    features = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit_transform(train_texts)
    LogisticRegression(C=10, max_iter=1000).fit(features, trY)
    linear = time.perf_counter() - start
    epoch = tokens / gru_large_tokens_per_s
    print(f"  TF-IDF (1-2 grams) + LogisticRegression fit: {linear:.1f} s; one epoch of the large GRU on the same "
          f"reviews: {epoch:,.0f} s ({epoch / linear:.0f}x; the talk's 10 epochs: {10 * epoch / linear:.0f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="large configuration, GRU and LSTM, no IMDB figures")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--no-imdb", action="store_true", help="skip the IMDB figures (padding, scoring, TF-IDF)")
    parser.add_argument("--layers", help=f"comma-separated, of {', '.join(GATES)} (default: all; --quick: GRUs, LSTM)")
    precision.add_argument(parser)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--keras-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(passage_child(*json.loads(args.child))))
        return
    if args.keras_child:
        print(json.dumps(keras_child(*json.loads(args.keras_child))))
        return
    products = precision.choose(args.precision)
    peak = matmul_gflops()
    print(f"numpy float32 matrix product (2048^3): {peak:.0f} GFLOP/s; batch {BATCH}, length {LENGTH}, "
          f"vocabulary {VOCABULARY:,}, Adam, float32; matrix products: {products}")
    header = (f"{'layer':17}{'emb/hid':>8}{'train tok/s':>12}{'GFLOP/s':>9}{'% peak':>7}{'predict tok/s':>14}"
              f"{'compile cold/warm s':>20}{'peak MB':>8}{'torch train tok/s':>18}{'x torch':>8}{'torch pred':>11}{'x':>6}"
              f"{'keras train tok/s':>18}{'x keras':>8}{'keras compile s':>16}")
    print(header)
    layers = ("GatedRecurrent", "GRU reset_after", "LstmRecurrent") if args.quick else tuple(GATES)
    if args.layers:
        layers = tuple(args.layers.split(","))
        unknown = sorted(set(layers) - set(GATES))
        if unknown:
            parser.error(f"--layers: {', '.join(unknown)} not among {', '.join(GATES)}")
    configurations = {"large": CONFIGURATIONS["large"]} if args.quick else CONFIGURATIONS
    tokens = BATCH * LENGTH
    speeds = {}
    for label, (embedding, hidden) in configurations.items():
        for layer in layers:
            ours = measure_passage(layer, embedding, hidden, args.steps)
            peer = measure_torch(layer, embedding, hidden, args.steps)
            keras_peer = measure_keras(layer, embedding, hidden, args.steps)
            train_speed, predict_speed = tokens / ours["train_s"], tokens / ours["predict_s"]
            speeds[(layer, label)] = train_speed
            gflops = train_speed * train_gflop_per_token(layer, embedding, hidden)
            line = (f"{layer:17}{f'{embedding}/{hidden}':>8}{train_speed:12,.0f}{gflops:9.0f}"
                    f"{gflops / ours.get('device_peak', peak):7.0%}"
                    f"{predict_speed:14,.0f}{ours['compile_cold']:12.1f} /{ours['compile_warm']:6.1f}"
                    f"{ours['peak_mb']:8.0f}")
            if peer:
                line += (f"{tokens / peer['train_s']:18,.0f}{peer['train_s'] / ours['train_s']:8.2f}"
                         f"{tokens / peer['predict_s']:11,.0f}{peer['predict_s'] / ours['predict_s']:6.2f}")
            if keras_peer:
                line += (f"{tokens / keras_peer['train_s']:18,.0f}{keras_peer['train_s'] / ours['train_s']:8.2f}"
                         f"{keras_peer['compile']:16.1f}")
            print(line, flush=True)
    if "device_peak" in ours:
        print(f"% peak on the GPU: of jax's float32 8192^3 matrix product there (at the precision above), "
              f"{ours['device_peak']:,.0f} GFLOP/s")
    print(f"Passage ran on: {ours['device']}" + (f"; PyTorch {peer['version']} on {peer['device']}" if peer else
                                                  "; PyTorch not installed (pip install .[bench]) so no peer"))
    gru, lstm = speeds.get(("GatedRecurrent", "large")), speeds.get(("LstmRecurrent", "large"))
    if gru and lstm:
        print(f"GRU / LSTM training speed (large): {gru / lstm:.2f}x (the talk: 1.5-1.75x)")
    if gru and not (args.quick or args.no_imdb):
        imdb_figures(gru)


if __name__ == "__main__":
    main()
