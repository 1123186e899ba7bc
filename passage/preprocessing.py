"""Text in: the Tokenizer (words or characters to integer ids) and an HTML cleaning helper.

Ids: ``PAD = 0`` (padding, never a token), ``UNK = 1`` (any token not in the vocabulary), then
with ``Tokenizer(mark_ends=True)`` ``BOS = 2`` and ``EOS = 3`` (each text's begin and end, for
language models), then the vocabulary, most frequent first (document frequency; ties in string
order, so the same texts always give the same ids). :func:`lm_windows` cuts id sequences into a
language model's inputs and targets.
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

__all__ = ["PAD", "UNK", "BOS", "EOS", "Tokenizer", "clean", "tokenize", "lm_windows", "LenFilter"]

log = logging.getLogger("passage")

PAD, UNK, BOS, EOS = 0, 1, 2, 3
UNK_TOKEN = "<unk>"

# A word (letters, digits, underscore, in any script) with an optional contraction ("don't",
# "it's"), or any single other non-space character ("!", "(", an emoji) as a token of its own.
_WORD = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def tokenize(text: str, character: bool = False) -> list[str]:
    """Split ``text`` into tokens: words and punctuation, or every character."""
    return list(text) if character else _WORD.findall(text)


class Tokenizer:
    """Map texts to lists of integer ids.

    Parameters
    ----------
    max_features : int
        The most ids the model will see, PAD and UNK included: the vocabulary keeps the
        ``max_features - 2`` tokens found in the most documents.
    min_df : int
        Keep only tokens found in at least this many documents.
    lowercase : bool
        Lowercase texts before splitting.
    character : bool
        Character mode: every character (spaces included) is a token.
    max_len : int or None
        Cut longer texts to ``max_len`` ids, keeping their start (``keep='start'``) or end
        (``keep='end'``). No text is ever dropped; how many were cut is logged.
    mark_ends : bool
        Begin each text with ``BOS`` (id 2) and end it with ``EOS`` (id 3), so a language model
        learns where texts start and stop; the vocabulary then starts at id 4.
    """

    def __init__(self, max_features: int = 9997, min_df: int = 10, lowercase: bool = True,
                 character: bool = False, max_len: int | None = None, keep: str = "start",
                 mark_ends: bool = False):
        reserved = 4 if mark_ends else 2
        if max_features < reserved + 1:
            raise ValueError(f"max_features counts the {reserved} reserved ids too, so it must be at least "
                             f"{reserved + 1}, got {max_features}")
        if min_df < 1:
            raise ValueError(f"min_df must be at least 1, got {min_df}")
        if keep not in ("start", "end"):
            raise ValueError(f"keep must be 'start' or 'end', got {keep!r}")
        if max_len is not None and max_len < 1:
            raise ValueError(f"max_len must be a positive number of ids or None, got {max_len}")
        self.max_features, self.min_df = max_features, min_df
        self.lowercase, self.character = lowercase, character
        self.max_len, self.keep, self.mark_ends = max_len, keep, mark_ends
        self._reserved = reserved
        self.vocabulary: list[str] | None = None
        self.encoder: dict[str, int] = {}

    def _tokens(self, texts: Iterable[str]) -> Iterable[list[str]]:
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {i} is a {type(text).__name__}, not a string")
            yield tokenize(text.lower() if self.lowercase else text, self.character)

    def _fit_tokens(self, token_lists: Sequence[list[str]]) -> "Tokenizer":
        document_frequency = Counter()
        for tokens in token_lists:
            document_frequency.update(set(tokens))
        kept = [(df, token) for token, df in document_frequency.items() if df >= self.min_df]
        kept.sort(key=lambda pair: (-pair[0], pair[1]))
        self.vocabulary = [token for _, token in kept[:self.max_features - self._reserved]]
        self.encoder = {token: i for i, token in enumerate(self.vocabulary, start=self._reserved)}
        return self

    def fit(self, texts: Iterable[str]) -> "Tokenizer":
        """Learn the vocabulary of ``texts``."""
        return self._fit_tokens(list(self._tokens(texts)))

    def _encode(self, token_lists: Iterable[list[str]]) -> list[list[int]]:
        if self.vocabulary is None:
            raise RuntimeError("this Tokenizer is not fitted yet: call fit(texts) or fit_transform(texts) first")
        get = self.encoder.get
        sequences = [[get(token, UNK) for token in tokens] for tokens in token_lists]
        if self.mark_ends:
            sequences = [[BOS] + s + [EOS] for s in sequences]
        if self.max_len is not None:
            cut = sum(len(s) > self.max_len for s in sequences)
            if cut:
                log.info("Tokenizer: cut %d of %d texts to max_len=%d ids (kept the %s)", cut,
                         len(sequences), self.max_len, self.keep)
                end = self.max_len
                sequences = [s[:end] if self.keep == "start" else s[-end:] for s in sequences]
        return sequences

    def transform(self, texts: Iterable[str]) -> list[list[int]]:
        """Each text as a list of ids (an empty text gives an empty list)."""
        return self._encode(self._tokens(texts))

    def fit_transform(self, texts: Iterable[str]) -> list[list[int]]:
        """``fit`` then ``transform``, splitting each text only once."""
        token_lists = list(self._tokens(texts))
        return self._fit_tokens(token_lists)._encode(token_lists)

    def inverse_transform(self, sequences: Iterable[Sequence[int]]) -> list[str]:
        """Texts back from ids: tokens joined by spaces (characters joined as they were);
        PAD, BOS and EOS are skipped and unknown tokens read ``<unk>``."""
        if self.vocabulary is None:
            raise RuntimeError("this Tokenizer is not fitted yet: call fit(texts) first")
        decoder = [None, UNK_TOKEN] + [None] * (self._reserved - 2) + self.vocabulary
        joiner = "" if self.character else " "
        return [joiner.join(decoder[int(i)] for i in ids if decoder[int(i)] is not None) for ids in sequences]

    @property
    def n_features(self) -> int:
        """How many distinct ids ``transform`` can output (PAD and UNK included): the
        ``n_features`` of the model's Embedding or OneHot layer."""
        if self.vocabulary is None:
            raise RuntimeError("this Tokenizer is not fitted yet: call fit(texts) first")
        return len(self.vocabulary) + self._reserved

    def get_config(self) -> dict:
        """JSON-safe settings and vocabulary; :meth:`from_config` rebuilds the same Tokenizer."""
        return {"max_features": self.max_features, "min_df": self.min_df, "lowercase": self.lowercase,
                "character": self.character, "max_len": self.max_len, "keep": self.keep,
                "mark_ends": self.mark_ends, "vocabulary": self.vocabulary}

    @classmethod
    def from_config(cls, config: dict) -> "Tokenizer":
        config = dict(config)
        vocabulary = config.pop("vocabulary")
        tokenizer = cls(**config)
        if vocabulary is not None:
            if not all(isinstance(token, str) for token in vocabulary) or len(set(vocabulary)) != len(vocabulary):
                raise ValueError("a Tokenizer vocabulary must be a list of distinct strings")
            tokenizer.vocabulary = list(vocabulary)
            tokenizer.encoder = {token: i for i, token in enumerate(vocabulary, start=tokenizer._reserved)}
        return tokenizer


def lm_windows(sequences: Iterable[Sequence[int]], length: int, stride: int | None = None):
    """A language model's training pairs: ``(X, Y)`` where each ``Y[i]`` is ``X[i]`` shifted by one
    (the id that follows each input id).

    Each sequence is cut into windows of at most ``length`` inputs, starting every ``stride`` ids
    (default ``length``: every id but the first is a target exactly once), so memory follows the
    window, not the document. A sequence's last window may be shorter; a sequence of fewer than 2
    ids gives none. Returns two lists of int32 arrays.
    """
    if length < 1:
        raise ValueError(f"length is a number of ids per window, at least 1, got {length}")
    stride = length if stride is None else stride
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    X, Y = [], []
    for sequence in sequences:
        ids = np.asarray(sequence, dtype=np.int32)
        for start in range(0, len(ids) - 1, stride):
            window = ids[start:start + length + 1]  # the inputs and, one further, the last target
            X.append(window[:-1])
            Y.append(window[1:])
    return X, Y


class LenFilter:
    """Drop training sequences that are too long (the 2015 ``fit(len_filter=...)``): the limit is the
    ``percentile``-th percentile of the lengths (0: none), clipped to [``min_max_len``, ``max_len``].
    ``fit`` does not filter unless given one (the 2015 ``fit`` always did, with these defaults)."""

    def __init__(self, max_len: int = 1000, min_max_len: int = 100, percentile: float = 99):
        self.max_len, self.min_max_len, self.percentile = max_len, min_max_len, percentile

    def limit(self, lengths) -> float:
        limit = np.percentile(lengths, self.percentile) if self.percentile > 0 and len(lengths) else self.max_len
        return float(np.clip(limit, self.min_max_len, self.max_len))

    def kept(self, sequences) -> np.ndarray:
        """The positions of the sequences within the limit."""
        lengths = np.array([len(s) for s in sequences])
        return np.flatnonzero(lengths <= self.limit(lengths))

    def filter(self, *data):
        """The 2015 call: ``filter(X)`` or ``filter(X, Y, ...)``, each list keeping the same positions."""
        kept = self.kept(data[0])
        chosen = [[d[i] for i in kept] for d in data]
        return chosen[0] if len(data) == 1 else tuple(chosen)


_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def clean(text: str) -> str:
    """Text content of an HTML fragment, lowercased and stripped (the talk's cleaning step).

    Line breaks (``<br />``) become spaces. Plain text passes through; broken markup is read as
    well as lxml can, and if it cannot parse a document at all, tags are cut out by pattern
    instead: a document is never lost.
    """
    import lxml.etree
    import lxml.html

    text = _BREAK.sub(" ", text)
    if not text.strip():
        return ""
    try:
        content = lxml.html.fromstring(text).text_content()
    except (lxml.etree.ParserError, ValueError):
        content = _TAG.sub(" ", text)
    return content.lower().strip()

