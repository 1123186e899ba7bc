"""Pretrained word vectors (GloVe, word2vec) as the starting weights of an ``Embedding``.

    from passage import vectors
    glove = vectors.load("glove.6B.100d.txt")                 # GloVe or word2vec text format
    weights, coverage = glove.embedding_weights(tokenizer)    # rows in the tokenizer's id order
    Embedding(size=glove.dim, n_features=tokenizer.n_features, weights=[weights])

Words of the tokenizer's vocabulary that the vectors lack start from small random values (like
``Embedding``'s own uniform init), PAD from zeros; ``coverage`` is the share of the vocabulary
found (also logged). Vectors are read from the user's file; nothing is downloaded.

General vectors and vectors of the task's own domain (e.g. word2vec trained on unlabelled text of
it, ``examples/word_vectors.py``) can start one Embedding side by side::

    both = vectors.concatenate(glove, vectors.load("imdb_word2vec100.txt"))   # 100 + 100 = 200-d
"""
from __future__ import annotations

import logging
import os

import numpy as np

__all__ = ["WordVectors", "concatenate", "gather", "load"]

log = logging.getLogger("passage")


class WordVectors:
    """Vectors by word: ``words`` (a list of distinct strings) and ``matrix`` (len(words), dim)."""

    def __init__(self, words, matrix):
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(words):
            raise ValueError(f"{len(words)} words need a matrix of {len(words)} rows, got shape {matrix.shape}")
        self.words, self.matrix = list(words), matrix
        self.index = {}
        for row, word in enumerate(self.words):
            self.index.setdefault(word, row)  # the first vector of a repeated word wins

    @property
    def dim(self) -> int:
        return self.matrix.shape[1]

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word) -> bool:
        return word in self.index

    def __getitem__(self, word) -> np.ndarray:
        return self.matrix[self.index[word]]

    def embedding_weights(self, tokenizer, scale: float = 0.05, seed: int = 0, lowercase_fallback: bool = True):
        """``(weights, coverage)``: an ``(n_features, dim)`` array for ``Embedding(weights=[weights])``,
        one row per id of ``tokenizer``, and the share of the vocabulary found. Each word is looked
        up as it is, then (``lowercase_fallback``) case-blind: a lowercasing tokenizer's 'paris'
        finds a cased file's 'Paris' (the first of its spellings in the file)."""
        if tokenizer.vocabulary is None:
            raise ValueError("the tokenizer is not fitted: fit it on the texts first")
        rng = np.random.default_rng(seed)
        weights = rng.uniform(-scale, scale, (tokenizer.n_features, self.dim)).astype(np.float32)
        weights[0] = 0.0  # PAD
        found = 0
        caseless = {}
        if lowercase_fallback:
            for word, row in self.index.items():
                caseless.setdefault(word.lower(), row)
        for word, i in tokenizer.encoder.items():
            row = self.index.get(word)
            if row is None and lowercase_fallback:
                row = caseless.get(word.lower())
            if row is not None:
                weights[i] = self.matrix[row]
                found += 1
        coverage = found / max(len(tokenizer.encoder), 1)
        log.info("word vectors cover %d of %d vocabulary words (%.1f%%)", found, len(tokenizer.encoder),
                 100 * coverage)
        return weights, coverage


def load(path, max_words: int | None = None, words=None) -> WordVectors:
    """Read GloVe (``word v1 ... vd`` per line) or word2vec text (the same after a ``count dim``
    header line) vectors from ``path`` (``.gz`` too). ``max_words`` keeps the first lines only (both
    formats list frequent words first); ``words`` keeps only those words (e.g. a tokenizer's
    vocabulary), which saves memory for large files."""
    import gzip

    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    wanted = None if words is None else set(words)
    names, rows, dim = [], [], None
    with opener(path, "rt", encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(file, start=1):
            parts = line.rstrip("\n").rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # the word2vec header
            if len(parts) < 2:
                continue
            if dim is None:
                dim = len(parts) - 1
            if len(parts) - 1 != dim:
                raise ValueError(f"{path} line {number} has {len(parts) - 1} values where the first vector has "
                                 f"{dim}: not a GloVe or word2vec text file")
            if wanted is None or parts[0] in wanted or parts[0].lower() in wanted:
                names.append(parts[0])
                rows.append(np.asarray(parts[1:], dtype=np.float32))
            if max_words is not None and number >= max_words:
                break
    if not rows:
        raise ValueError(f"{path} holds no word vectors" + (" for the given words" if wanted is not None else ""))
    return WordVectors(names, np.vstack(rows))


def _rms(matrix) -> float:
    return float(np.sqrt(np.mean(np.square(matrix, dtype=np.float64))))


def concatenate(*sources: WordVectors, scale: float = 0.05, seed: int = 0) -> WordVectors:
    """Several word vectors side by side: one :class:`WordVectors` over every word that any source
    holds (the first source's words first), each word's vector the sources' vectors one after the
    other, ``dim`` the sum of theirs. The first source keeps its values; each later one is rescaled
    so that its root mean square matches the first's (sources trained apart differ in scale, and a
    shared scale keeps one from dominating the start). In the columns of a source that lacks a word,
    that word gets small uniform values in ``[-scale, scale)``, as a word that no vectors hold does
    in :meth:`WordVectors.embedding_weights`."""
    if not sources:
        raise ValueError("concatenate needs at least one WordVectors")
    for source in sources:
        if not isinstance(source, WordVectors):
            raise TypeError("concatenate takes WordVectors (passage.vectors.load reads a file), "
                            f"got {type(source).__name__}")
    words = list(dict.fromkeys(word for source in sources for word in source.index))
    position = {word: i for i, word in enumerate(words)}
    rng = np.random.default_rng(seed)
    reference = _rms(sources[0].matrix)
    columns = []
    for k, source in enumerate(sources):
        block = rng.uniform(-scale, scale, (len(words), source.dim)).astype(np.float32)
        rows = np.fromiter((position[word] for word in source.index), dtype=np.int64, count=len(source.index))
        own = np.fromiter(source.index.values(), dtype=np.int64, count=len(source.index))
        factor = 1.0 if k == 0 else reference / max(_rms(source.matrix), 1e-12)
        block[rows] = source.matrix[own] * np.float32(factor)
        columns.append(block)
    log.info("concatenated word vectors: %d words, %s = %d columns", len(words),
             " + ".join(str(source.dim) for source in sources), sum(source.dim for source in sources))
    return WordVectors(words, np.hstack(columns))


def gather(sources) -> WordVectors:
    """One :class:`WordVectors` from what ``RNNClassifier(vectors=...)`` takes: a GloVe / word2vec
    file's path, a :class:`WordVectors`, or a list of them (each path read by :func:`load`, several
    set side by side by :func:`concatenate`)."""
    sources = list(sources) if isinstance(sources, (list, tuple)) else [sources]
    found = [source if isinstance(source, WordVectors) else load(source) for source in sources]
    return found[0] if len(found) == 1 else concatenate(*found)
