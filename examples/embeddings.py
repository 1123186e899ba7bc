"""Word embeddings learned from sentiment alone: the talk's slide, from a trained popcorn model.

Projects the Embedding vectors of clearly positive, negative and neutral words to 2-D with PCA and
writes a PNG with the words on it. The model only ever saw review labels, yet it pulls positive
and negative words apart.

    python examples/popcorn.py --save results/popcorn.passage     # train and save (see README)
    python examples/embeddings.py results/popcorn.passage         # -> results/embeddings.png
"""
from __future__ import annotations

import argparse
import os

import numpy as np
from sklearn.decomposition import PCA

from passage.utils import load

WORDS = {
    "positive": ["great", "excellent", "wonderful", "best", "perfect", "brilliant", "amazing", "loved",
                 "superb", "beautiful", "enjoyed", "favorite", "fantastic", "masterpiece"],
    "negative": ["bad", "worst", "awful", "terrible", "boring", "waste", "poor", "horrible", "stupid",
                 "dull", "disappointing", "worse", "mess", "lame"],
    "neutral": ["the", "movie", "film", "actor", "scene", "story", "camera", "minutes", "character",
                "director", "plot", "and", "was", "script"],
}
COLORS = {"positive": "tab:green", "negative": "tab:red", "neutral": "tab:gray"}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a model saved with its tokenizer (popcorn.py --save)")
    parser.add_argument("--out", default=os.path.join("results", "embeddings.png"))
    args = parser.parse_args(argv)
    model = load(args.model)
    if model.tokenizer is None:
        parser.error(f"{args.model} holds no tokenizer: save it with save(model, path, tokenizer=tokenizer)")
    vectors = model.get_weights()["0/W"]  # (n_features, size): the Embedding's table
    vocabulary = model.tokenizer.encoder  # word -> id
    words, groups = [], []
    for group, members in WORDS.items():
        for word in members:
            if word in vocabulary:
                words.append(word)
                groups.append(group)
    points = PCA(n_components=2, random_state=0).fit_transform(vectors[[vocabulary[w] for w in words]])

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 6))
    for group in WORDS:
        chosen = np.array([g == group for g in groups])
        axes.scatter(points[chosen, 0], points[chosen, 1], c=COLORS[group], label=group, s=25)
    for (x, y), word, group in zip(points, words, groups):
        axes.annotate(word, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=10, color=COLORS[group])
    axes.set_xlabel("first principal component")
    axes.set_ylabel("second principal component")
    axes.set_title("Word embeddings learned from IMDB sentiment labels (PCA)")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    figure.savefig(args.out, dpi=120)
    plt.close(figure)
    positive = points[[g == "positive" for g in groups], 0].mean()
    negative = points[[g == "negative" for g in groups], 0].mean()
    print(f"{len(words)} words plotted to {args.out}; mean first component: positive {positive:+.2f}, "
          f"negative {negative:+.2f}")


if __name__ == "__main__":
    main()
