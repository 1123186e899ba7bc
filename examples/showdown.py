"""The talk's showdown: TF-IDF + logistic regression against the RNN, and the effect of dataset size.

Model #1: TfidfVectorizer (word 1-2 grams) + LogisticRegression, with a grid search over min_df
and C (scored on a validation fifth of the training data, then refitted on all of it).
Model #2: the RNN of examples/popcorn.py with its default settings (best validation epoch kept).
Both on the standard IMDB split, scored by test ROC AUC, each with its wall-clock time; then both
trained on 1K, 2K, 5K, 10K and 20K reviews: a table and a PNG of AUC against training-set size.
With ``--blend`` (popcorn's option) a third curve: the RNN averaged with TF-IDF + LR, the weight
chosen on the tenth of the training reviews that the RNN validates on; beside the RNN, never instead.

    python examples/showdown.py                 # about 15 minutes on 2 cores
    python examples/showdown.py --quick         # 500 and 1,000 reviews, a small quick RNN: ~3 minutes
    python examples/showdown.py --adversarial 0 # any other option goes to popcorn.py's RNN
    python examples/showdown.py --blend         # also the RNN + TF-IDF blend (popcorn.py --blend)
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

from passage.datasets import load_imdb
from passage.preprocessing import clean

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # popcorn.py sits beside this file
import popcorn  # noqa: E402

GRID = {"min_df": (1, 2, 5), "C": (1.0, 10.0, 100.0)}


def tfidf_logistic_regression(train_texts, trY, test_texts) -> tuple[np.ndarray, dict]:
    """Grid search on a validation fifth, refit the best on all training texts; test probabilities."""
    fit_texts, val_texts, fitY, valY = train_test_split(train_texts, trY, test_size=0.2, stratify=trY,
                                                        random_state=0)
    best = (-1.0, None)
    for min_df in GRID["min_df"]:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=min_df, sublinear_tf=True)
        features, validation = vectorizer.fit_transform(fit_texts), vectorizer.transform(val_texts)
        for C in GRID["C"]:
            classifier = LogisticRegression(C=C, max_iter=1000).fit(features, fitY)
            auc = roc_auc_score(valY, classifier.predict_proba(validation)[:, 1])
            best = max(best, (auc, {"min_df": min_df, "C": C}), key=lambda pair: pair[0])
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=best[1]["min_df"], sublinear_tf=True)
    classifier = LogisticRegression(C=best[1]["C"], max_iter=1000).fit(vectorizer.fit_transform(train_texts), trY)
    return classifier.predict_proba(vectorizer.transform(test_texts))[:, 1], best[1]


BLEND = "RNN + TF-IDF blend"  # popcorn.py's name for the blend's predictions, and this table's
RNN_NAMES = {"RNN": "RNN (GRU)", BLEND: BLEND}  # popcorn's name -> this table's


def rnn(train_texts, trY, test_texts, quick: bool, options: list[str]) -> dict[str, np.ndarray]:
    """popcorn.py's test predictions by this table's names: the RNN's, and with --blend the blend's."""
    _, args = popcorn.arguments(options + (["--quick"] if quick else []))
    args.n_train = None
    predictions, _ = popcorn.run(train_texts, trY, test_texts, args)
    return {RNN_NAMES[name]: values for name, values in predictions.items()}


def scored(predictions, teY, seconds, **details) -> dict:
    return {"auc": roc_auc_score(teY, predictions), "accuracy": accuracy_score(teY, predictions > 0.5),
            "seconds": seconds, **details}


def plot(rows, sizes, crossing, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for name, marker in (("TF-IDF + LR", "o"), ("RNN (GRU)", "s"), (BLEND, "^")):
        aucs = [row["auc"] for size in sizes for row in rows if row["n"] == size and row["model"] == name]
        if aucs:
            axes.plot(sizes, aucs, marker=marker, label=name, linestyle=":" if name == BLEND else "-")
    if crossing:
        axes.axvline(crossing, color="gray", linestyle="--")
        axes.annotate(f"RNN ahead from {crossing:,}", (crossing, axes.get_ylim()[0]), xytext=(5, 10),
                      textcoords="offset points", color="gray")
    axes.set_xscale("log")
    axes.set_xticks(sizes, [f"{size:,}" for size in sizes])
    axes.set_xlabel("training reviews (log scale)")
    axes.set_ylabel("test ROC AUC (5,000 held-out IMDB reviews)")
    axes.set_title("Effect of dataset size: TF-IDF + logistic regression vs RNN")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000, 10000, 20000])
    parser.add_argument("--out-dir", default="results")
    parser.add_argument("--quick", action="store_true")
    args, rnn_options = parser.parse_known_args(argv)
    popcorn.arguments(rnn_options)  # popcorn's own error for an option it does not know, before any training
    if args.quick:
        args.sizes = [500, 1000]
    os.makedirs(args.out_dir, exist_ok=True)
    (train_texts, trY), (test_texts, teY) = load_imdb()
    train_texts, test_texts = [clean(t) for t in train_texts], [clean(t) for t in test_texts]

    rows = []
    for n in sorted(args.sizes):
        texts, labels = train_texts[:n], trY[:n]  # load_imdb's order is already shuffled
        start = time.time()
        predictions, grid = tfidf_logistic_regression(texts, labels, test_texts)
        found = [{"model": "TF-IDF + LR", **scored(predictions, teY, time.time() - start, **grid)}]
        start = time.time()
        recurrent = rnn(texts, labels, test_texts, args.quick, rnn_options)
        found += [{"model": name, **scored(predictions, teY, time.time() - start)}  # the blend: the same run
                  for name, predictions in recurrent.items()]
        for row in found:
            rows.append({"n": n, **row})
            print(f"{n:>7,} reviews  {row['model']:18}  AUC {row['auc']:.4f}  accuracy {row['accuracy']:.4f}  "
                  f"{row['seconds']:6.0f} s" + (f"  (min_df {row['min_df']}, C {row['C']:g})" if "C" in row else ""),
                  flush=True)

    blending = any(row["model"] == BLEND for row in rows)
    print("\n| training reviews | TF-IDF + LR AUC | RNN AUC | RNN error / TF-IDF error |"
          + (f" {BLEND} AUC |" if blending else "") + " TF-IDF s | RNN s |")
    print("| ---: | ---: | ---: | ---: |" + (" ---: |" if blending else "") + " ---: | ---: |")
    crossing = None
    for n in sorted(args.sizes):
        found = {row["model"]: row for row in rows if row["n"] == n}
        linear, recurrent = found["TF-IDF + LR"], found["RNN (GRU)"]
        ratio = (1 - recurrent["auc"]) / (1 - linear["auc"])
        if crossing is None and recurrent["auc"] >= linear["auc"]:
            crossing = n
        print(f"| {n:,} | {linear['auc']:.4f} | {recurrent['auc']:.4f} | {ratio:.2f}x | "
              + (f"{found[BLEND]['auc']:.4f} | " if blending else "")
              + f"{linear['seconds']:.0f} | {recurrent['seconds']:.0f} |")
    print("\ncurves cross at " + (f"{crossing:,} reviews" if crossing else
                                  f"none of these sizes: the RNN stays behind up to {max(args.sizes):,} reviews "
                                  "(the talk: the RNN wins from somewhere between 10K and 1M)"))
    path = os.path.join(args.out_dir, "showdown.png")
    plot(rows, sorted(args.sizes), crossing, path)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
