"""Word vectors of your own domain: word2vec trained on unlabelled text, for ``--vectors``.

    python examples/word_vectors.py                  # IMDB's 25,000 reviews -> imdb_word2vec100.txt (~4 min)
    python examples/rotten.py --bidirectional --pooling max,mean --adversarial 0.05 --min-df 1 \\
        --vectors imdb_word2vec100.txt               # Rotten Tomatoes from those vectors: 0.800 (three seeds)
    python examples/rotten.py ... --vectors glove50,imdb_word2vec100.txt   # beside GloVe (150-d): 0.799

General-purpose vectors (GloVe: Wikipedia and news) know most words but not how a domain uses
them; a few minutes of word2vec on unlabelled text of the domain does. Here the text is IMDB's
25,000 train and test reviews (their words only, no labels), the domain of the Rotten Tomatoes
sentences, which it never contains. The text is tokenized as ``RNNClassifier`` tokenizes it
(``clean``, lowercase, words and punctuation), so the vectors' words are the estimator's words.
Any word2vec / GloVe text file works the same way; ``passage.vectors.concatenate`` sets several
side by side.

word2vec itself is gensim's (``pip install .[examples]``), skip-gram with negative sampling; one
worker thread and a fixed hash make a run repeatable (``--workers 2`` is about twice as fast and
differs from run to run).
"""
from __future__ import annotations

import argparse
import time
import zlib

from passage.datasets import load_imdb
from passage.preprocessing import clean, tokenize


def stable_hash(text: str) -> int:
    """gensim seeds each word's starting vector from ``hash(word + seed)``; Python's own string hash
    changes from process to process, this one does not."""
    return zlib.crc32(text.encode("utf-8"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help="the word2vec text file to write (default: imdb_word2vec<dim>.txt)")
    parser.add_argument("--dim", type=int, default=100, help="vector width")
    parser.add_argument("--window", type=int, default=5, help="words either side that count as context")
    parser.add_argument("--min-count", type=int, default=3, help="keep words seen at least this often")
    parser.add_argument("--epochs", type=int, default=5, help="passes over the text")
    parser.add_argument("--workers", type=int, default=1, help="threads (1: the same file on every run)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reviews", type=int, default=None, help="the first N reviews only (default: all 25,000)")
    args = parser.parse_args(argv)
    from gensim.models import Word2Vec  # the examples extra

    (train_texts, _), (test_texts, _) = load_imdb()
    start = time.time()
    texts = (list(train_texts) + list(test_texts))[:args.reviews]
    sentences = [tokenize(clean(text)) for text in texts]  # clean lowercases, as the estimator's tokenizer does
    model = Word2Vec(sentences, vector_size=args.dim, window=args.window, min_count=args.min_count, sg=1,
                     negative=10, epochs=args.epochs, workers=args.workers, seed=args.seed, hashfxn=stable_hash)
    out = args.out or f"imdb_word2vec{args.dim}.txt"
    model.wv.save_word2vec_format(out)
    print(f"word2vec: {len(sentences):,} reviews, {sum(map(len, sentences)):,} words, {len(model.wv):,} kept "
          f"(seen {args.min_count}+ times), {args.dim}-d, {time.time() - start:.0f} s; wrote {out}")


if __name__ == "__main__":
    main()
