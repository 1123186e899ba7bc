"""Per-token outputs on real text: restoring the case of lower-cased IMDB reviews ("truecasing").

Input: a review's words, lower-cased, as ids. Label of each word, read from the original text:
lower ("movie"), Capitalized ("Hitchcock", "I"), ALL CAPS ("DVD", "NOT") or mixed ("McQueen",
"DiCaprio"). Punctuation and digits have no case and count as lower. It is a real task (restoring
case in speech-recognition output or lower-cased text) with real labels, on data that ships in a
package. Four taggers side by side on the same split:

* the majority label of each word in the training text (a lookup table);
* scikit-learn's LogisticRegression on a window of +-2 words (hashed one-hot features);
* a forward GRU, and a Bidirectional GRU (``seq_output=True``: one softmax per token).

Scores count words with letters only: per-token accuracy, and macro F1 over the rarer labels
(Capitalized, ALL CAPS, mixed), where a tagger shows whether it uses context.

    python examples/tagging.py            # 10,000 training reviews, 1,000 test reviews (about 11 minutes)
    python examples/tagging.py --quick    # a small run for the tests
"""
from __future__ import annotations

import argparse
import re
import time

import numpy as np
from sklearn.feature_extraction import FeatureHasher
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from passage.datasets import load_imdb
from passage.layers import Bidirectional, Dense, Embedding, GatedRecurrent
from passage.models import RNN
from passage.preprocessing import Tokenizer, tokenize
from passage.updates import Adam

LABELS = ["lower", "Capitalized", "ALL CAPS", "mixed"]
LOWER, CAPITALIZED, ALL_CAPS, MIXED = range(4)
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def case_of(token: str) -> int:
    letters = [c for c in token if c.isalpha()]
    if not letters or all(c.islower() for c in letters):
        return LOWER
    if letters[0].isupper() and all(c.islower() for c in letters[1:]):
        return CAPITALIZED
    if all(c.isupper() for c in letters):
        return ALL_CAPS
    return MIXED


def tagged(texts: list[str], max_len: int) -> tuple[list[list[str]], list[list[int]]]:
    """Each review's first ``max_len`` tokens, lower-cased, and their case labels."""
    words, labels = [], []
    for text in texts:
        tokens = tokenize(_BREAK.sub(" ", text))[:max_len]
        if tokens:
            words.append([t.lower() for t in tokens])
            labels.append([case_of(t) for t in tokens])
    return words, labels


def scored(words: list[list[str]], labels: list[list[int]], predicted: list[np.ndarray]) -> dict:
    """Accuracy and macro F1 over the rarer labels, on tokens with letters."""
    has_letters = np.array([any(c.isalpha() for c in w) for ws in words for w in ws])
    y = np.concatenate(labels)[has_letters]
    p = np.concatenate(predicted)[has_letters]
    rarer = [CAPITALIZED, ALL_CAPS, MIXED]
    return {"accuracy": accuracy_score(y, p), "f1": f1_score(y, p, labels=rarer, average="macro", zero_division=0),
            "f1 per label": f1_score(y, p, labels=rarer, average=None, zero_division=0)}


def majority_per_word(train_words, train_labels, test_words):
    counts: dict[str, np.ndarray] = {}
    for ws, ls in zip(train_words, train_labels):
        for w, label in zip(ws, ls):
            counts.setdefault(w, np.zeros(len(LABELS), int))[label] += 1
    table = {w: int(c.argmax()) for w, c in counts.items()}
    return [np.array([table.get(w, LOWER) for w in ws]) for ws in test_words]


def window_features(words: list[list[str]], width: int = 2):
    """Hashed one-hot features: each word of the +-``width`` window, by its offset."""
    for ws in words:
        padded = ["<s>"] * width + ws + ["</s>"] * width
        for t in range(len(ws)):
            yield [f"{offset}:{padded[t + width + offset]}" for offset in range(-width, width + 1)]


def window_logistic_regression(train_words, train_labels, test_words):
    hasher = FeatureHasher(n_features=2 ** 20, input_type="string", alternate_sign=False)
    model = LogisticRegression(max_iter=300, C=1.0)
    model.fit(hasher.transform(window_features(train_words)), np.concatenate(train_labels))
    flat = model.predict(hasher.transform(window_features(test_words)))
    lengths = np.cumsum([0] + [len(ws) for ws in test_words])
    return [flat[a:b] for a, b in zip(lengths[:-1], lengths[1:])]


def gru_tagger(train_words, train_labels, test_words, args, bidirectional: bool):
    tokenizer = Tokenizer(min_df=2, max_features=args.vocabulary)
    tokenizer.fit([" ".join(ws) for ws in train_words])
    encode = tokenizer.encoder.get  # the words are tokens already: map each one, unknown -> UNK (1)
    trX = [[encode(w, 1) for w in ws] for ws in train_words]
    teX = [[encode(w, 1) for w in ws] for ws in test_words]
    recurrent = GatedRecurrent(args.hidden, seq_output=True)
    layers = [Embedding(args.embedding, tokenizer.n_features),
              Bidirectional(recurrent) if bidirectional else recurrent,
              Dense(len(LABELS), activation="softmax")]
    model = RNN(layers, cost="cce", updater=Adam(lr=args.lr), seed=args.seed, verbose=args.verbose)
    model.fit(trX, train_labels, n_epochs=args.epochs, validation_split=0.1, metric="accuracy", patience=1)
    return [p.argmax(axis=1) for p in model.predict(teX)]


def arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-train", type=int, default=10000, help="training reviews")
    parser.add_argument("--n-test", type=int, default=1000, help="test reviews (of the standard test split)")
    parser.add_argument("--max-len", type=int, default=200, help="tokens kept from each review's start")
    parser.add_argument("--vocabulary", type=int, default=20000)
    parser.add_argument("--embedding", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1,500 training and 300 test reviews, 3 epochs")
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(n_train=1500, n_test=300, max_len=100, epochs=3, hidden=64, embedding=32)
    return args


def main(argv=None) -> dict:
    args = arguments(argv)
    (train_texts, _), (test_texts, _) = load_imdb()
    train_words, train_labels = tagged(train_texts[:args.n_train], args.max_len)
    test_words, test_labels = tagged(test_texts[:args.n_test], args.max_len)
    counts = np.bincount(np.concatenate(train_labels), minlength=len(LABELS))
    print(f"{len(train_words):,} training reviews ({counts.sum():,} tokens: "
          + ", ".join(f"{name} {n / counts.sum():.1%}" for name, n in zip(LABELS, counts))
          + f"), {len(test_words):,} test reviews")
    taggers = {
        "majority label per word": lambda: majority_per_word(train_words, train_labels, test_words),
        "LogisticRegression, window +-2": lambda: window_logistic_regression(train_words, train_labels, test_words),
        "forward GRU": lambda: gru_tagger(train_words, train_labels, test_words, args, bidirectional=False),
        "Bidirectional GRU": lambda: gru_tagger(train_words, train_labels, test_words, args, bidirectional=True),
    }
    results = {}
    print("\n| tagger | accuracy (words) | macro F1, rarer labels | F1 Capitalized / ALL CAPS / mixed "
          "| seconds (fit + predict) |\n| --- | --- | --- | --- | --- |")
    for name, tag in taggers.items():
        start = time.time()
        predicted = tag()
        results[name] = {**scored(test_words, test_labels, predicted), "seconds": time.time() - start}
        r = results[name]
        per_label = " / ".join(f"{f:.3f}" for f in r["f1 per label"])
        print(f"| {name} | {r['accuracy']:.4f} | {r['f1']:.4f} | {per_label} | {r['seconds']:.0f} |", flush=True)
    return results


if __name__ == "__main__":
    main()
