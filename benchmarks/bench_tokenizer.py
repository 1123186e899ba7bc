"""Tokenizer speed on the 25,000 IMDB reviews, next to scikit-learn's CountVectorizer in the same run.

    python benchmarks/bench_tokenizer.py

Both split on the same pattern (words with contractions, and single punctuation marks), lowercase,
and keep tokens found in at least 10 documents. Each is timed best of 3 on fit + transform.
"""
from __future__ import annotations

import time

from sklearn.feature_extraction.text import CountVectorizer

from passage.datasets import load_imdb
from passage.preprocessing import _WORD, Tokenizer


def best_of(n, fn):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    (train, _), (test, _) = load_imdb()
    texts = train + test
    ours = best_of(3, lambda: Tokenizer(min_df=10, max_features=100000).fit_transform(texts))
    vectorizer = CountVectorizer(token_pattern=_WORD.pattern, min_df=10, max_features=100000)
    peer = best_of(3, lambda: vectorizer.fit_transform(texts))
    vocabulary = Tokenizer(min_df=10, max_features=100000).fit(texts).n_features
    print(f"{len(texts)} reviews; vocabulary {vocabulary} ids (ours) / {len(vectorizer.vocabulary_)} (CountVectorizer)")
    print(f"{'':28s}{'seconds':>10s}{'reviews/s':>12s}")
    print(f"{'passage Tokenizer':28s}{ours:10.2f}{len(texts) / ours:12.0f}")
    print(f"{'sklearn CountVectorizer':28s}{peer:10.2f}{len(texts) / peer:12.0f}")
    print(f"ratio passage / CountVectorizer: {ours / peer:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
