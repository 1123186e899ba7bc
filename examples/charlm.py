"""A character-level GRU language model on IMDB review text, against compressors and an n-gram model.

Trains on the reviews of the standard training split and measures, on held-out reviews of the test
split, the **bits per character** of: the GRU (its mean -log2 probability of each next character,
each review's end included), ``lzma`` (xz preset 9), ``bz2`` and ``zlib`` (the compressed size of
the same text, reviews joined by newlines), and an order-5 character n-gram model with
interpolated Witten-Bell smoothing trained on the same training text. Then it writes samples from
a fixed prefix at temperatures 0.5 and 1.0.

    python examples/charlm.py                 # the full run (about 30 minutes on 2 CPU cores)
    python examples/charlm.py --quick         # about 2 minutes, for the tests
    python examples/charlm.py --save results/charlm.passage
"""
from __future__ import annotations

import argparse
import bz2
import lzma
import math
import re
import time
import zlib
from collections import Counter, defaultdict

import numpy as np

from passage.datasets import load_imdb
from passage.layers import Dense, Embedding, GatedRecurrent
from passage.models import RNN
from passage.preprocessing import BOS, Tokenizer, lm_windows
from passage.updates import Adam
from passage.utils import save

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def plain(texts: list[str]) -> list[str]:
    """Review text without HTML line breaks or runs of spaces; case and punctuation kept."""
    return [" ".join(_BREAK.sub(" ", text).split()) for text in texts]


def compressed_bits_per_character(text: str) -> dict[str, float]:
    data = text.encode("utf-8")
    sizes = {"lzma (xz -9)": len(lzma.compress(data, preset=9)), "bz2 (-9)": len(bz2.compress(data, 9)),
             "zlib (-9)": len(zlib.compress(data, 9))}
    return {name: 8.0 * size / len(text) for name, size in sizes.items()}


class WittenBell:
    """An order-``n`` character model with interpolated Witten-Bell smoothing:
    ``P(c | h) = (C(h c) + T(h) P(c | h')) / (C(h) + T(h))``, where ``T(h)`` is how many different
    characters followed ``h`` and ``h'`` is ``h`` without its first character; below order 1 the
    uniform distribution over the alphabet."""

    def __init__(self, order: int, alphabet: int):
        self.order, self.alphabet = order, alphabet
        self.counts = [Counter() for _ in range(order)]      # counts[k]: (k-character history + char)
        self.totals = [Counter() for _ in range(order)]      # counts[k] summed over the char
        self.types = [Counter() for _ in range(order)]       # distinct chars after each history

    def fit(self, texts: list[str]) -> "WittenBell":
        for text in texts:
            padded = "\x02" * (self.order - 1) + text + "\n"
            for k in range(self.order):
                self.counts[k].update(padded[i - k:i + 1] for i in range(self.order - 1, len(padded)))
        for k in range(self.order):
            for gram, count in self.counts[k].items():
                self.totals[k][gram[:-1]] += count
                self.types[k][gram[:-1]] += 1
        return self

    def bits(self, texts: list[str]) -> float:
        total, n = 0.0, 0
        for text in texts:
            padded = "\x02" * (self.order - 1) + text + "\n"
            for i in range(self.order - 1, len(padded)):
                p = 1.0 / self.alphabet
                for k in range(self.order):  # from the empty history up to order - 1 characters
                    history, gram = padded[i - k:i], padded[i - k:i + 1]
                    seen = self.totals[k][history]
                    if seen:
                        types = self.types[k][history]
                        p = (self.counts[k][gram] + types * p) / (seen + types)
                total -= math.log2(p)
                n += 1
        return total / n


def arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-train", type=int, default=16000, help="training reviews (of 20,000)")
    parser.add_argument("--n-test", type=int, default=1000, help="held-out reviews of the test split")
    parser.add_argument("--embedding", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--length", type=int, default=100, help="characters per training window")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--order", type=int, default=5, help="the n-gram model's order")
    parser.add_argument("--prefix", default="This movie was ")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", help="save the model and its tokenizer to this file")
    parser.add_argument("--quick", action="store_true", help="300 reviews, a small GRU: about 2 minutes")
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(n_train=300, n_test=50, hidden=64, embedding=16, lr=5e-3, epochs=2)
    return args


def main(argv=None) -> dict:
    args = arguments(argv)
    (train_texts, _), (test_texts, _) = load_imdb()
    train, held_out = plain(train_texts[:args.n_train]), plain(test_texts[:args.n_test])
    tokenizer = Tokenizer(character=True, lowercase=False, min_df=10, max_features=300, mark_ends=True)
    trX, trY = lm_windows(tokenizer.fit_transform(train), args.length)
    teX, teY = lm_windows(tokenizer.transform(held_out), args.length)
    n_characters = sum(len(text) + 1 for text in held_out)  # each review's end counts as its newline
    print(f"{len(train):,} training reviews ({sum(map(len, train)):,} characters, {tokenizer.n_features} ids), "
          f"{len(held_out):,} held-out reviews ({n_characters:,} characters)")

    results = {}
    start = time.time()
    results.update(compressed_bits_per_character("\n".join(held_out) + "\n"))
    results[f"order-{args.order} n-gram, Witten-Bell"] = WittenBell(args.order, tokenizer.n_features).fit(
        train).bits(held_out)
    print(f"baselines measured in {time.time() - start:.0f} s")

    model = RNN([Embedding(args.embedding, tokenizer.n_features), GatedRecurrent(args.hidden, seq_output=True),
                 Dense(tokenizer.n_features, activation="softmax")], cost="cce", updater=Adam(lr=args.lr),
                seed=args.seed, verbose=2)
    start = time.time()
    model.fit(trX, trY, n_epochs=args.epochs, batch_size=args.batch_size, validation_split=0.01, metric="bits")
    minutes = (time.time() - start) / 60
    name = f"GRU {args.hidden} ({minutes:.1f} min of training)"
    results[name] = model.evaluate(teX, teY, "bits")
    assert sum(map(len, teY)) == n_characters  # the GRU is scored on exactly the compressors' characters

    print("\n| model | held-out bits per character |\n| --- | --- |")
    for model_name, bits in sorted(results.items(), key=lambda item: item[1]):
        print(f"| {model_name} | {bits:.3f} |")
    prefix = [BOS] + tokenizer.transform([args.prefix])[0][1:-1]  # the prefix's ids without its end
    for temperature in (0.5, 1.0):
        ids = model.sample(prefix, 300, temperature=temperature, seed=args.seed)
        print(f"\ntemperature {temperature}:\n{tokenizer.inverse_transform([ids])[0]}")
    if args.save:
        save(model, args.save, tokenizer=tokenizer)
        print(f"\nsaved the model and its tokenizer to {args.save}")
    return {"bits": results, "model": name}


if __name__ == "__main__":
    main()
