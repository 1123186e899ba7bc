"""Pretrained word vectors: GloVe and word2vec text files into Embedding weights."""
import gzip

import numpy as np
import pytest
from numpy.testing import assert_allclose

from passage import vectors
from passage.layers import Embedding
from passage.preprocessing import Tokenizer

GLOVE = "the 0.1 0.2 0.3\ngood 1.0 1.5 -2.0\nFilm 0.5 0.5 0.5\nbad -1.0 -1.5 2.0\n"


def test_glove_and_word2vec_text_files_read_the_same(tmp_path):
    (tmp_path / "glove.txt").write_text(GLOVE)
    with gzip.open(tmp_path / "w2v.txt.gz", "wt") as file:
        file.write("4 3\n" + GLOVE)
    glove, w2v = vectors.load(tmp_path / "glove.txt"), vectors.load(tmp_path / "w2v.txt.gz")
    assert glove.words == w2v.words == ["the", "good", "Film", "bad"] and glove.dim == 3
    assert_allclose(w2v["good"], [1.0, 1.5, -2.0])
    assert vectors.load(tmp_path / "glove.txt", max_words=2).words == ["the", "good"]
    assert vectors.load(tmp_path / "glove.txt", words=["bad", "film"]).words == ["Film", "bad"]


def test_embedding_weights_follow_the_tokenizer_ids_and_report_coverage(tmp_path):
    (tmp_path / "glove.txt").write_text(GLOVE)
    tokenizer = Tokenizer(min_df=1).fit(["the good film", "the bad plot", "the film"])
    weights, coverage = vectors.load(tmp_path / "glove.txt").embedding_weights(tokenizer)
    assert weights.shape == (tokenizer.n_features, 3) and coverage == pytest.approx(4 / 5)  # 'plot' is missing
    assert_allclose(weights[tokenizer.encoder["good"]], [1.0, 1.5, -2.0])
    assert_allclose(weights[tokenizer.encoder["film"]], [0.5, 0.5, 0.5])  # 'Film' found by its lowercase form
    assert np.abs(weights[tokenizer.encoder["plot"]]).max() <= 0.05 and not weights[0].any()
    layer = Embedding(size=3, n_features=tokenizer.n_features, weights=[weights])
    layer.build(None, np.random.default_rng(0))
    assert_allclose(layer.get_weights()[0], weights)


def test_a_file_that_is_not_vectors_is_refused(tmp_path):
    (tmp_path / "ragged.txt").write_text("a 1 2 3\nb 1 2\n")
    with pytest.raises(ValueError, match="line 2 has 2 values"):
        vectors.load(tmp_path / "ragged.txt")


def test_concatenated_vectors_cover_every_word_with_later_sources_rescaled_to_the_first():
    general = vectors.WordVectors(["the", "good", "bad"], [[0.1, 0.2], [1.0, 1.5], [-1.0, -1.5]])
    domain = vectors.WordVectors(["good", "gripping", "good"], [[10.0, 0.0, 0.0], [0.0, 20.0, 0.0], [9.0, 9.0, 9.0]])
    both = vectors.concatenate(general, domain, scale=0.01)
    assert both.words == ["the", "good", "bad", "gripping"] and both.dim == 5
    factor = np.sqrt(np.mean(general.matrix ** 2) / np.mean(domain.matrix ** 2))
    assert_allclose(both["good"], [1.0, 1.5, 10.0 * factor, 0.0, 0.0], rtol=1e-6)  # the first 'good' of a source wins
    assert_allclose(both["gripping"][2:], [0.0, 20.0 * factor, 0.0], rtol=1e-6)
    assert np.abs(both["gripping"][:2]).max() <= 0.01 and np.abs(both["the"][2:]).max() <= 0.01  # lacked: small noise
    assert_allclose(vectors.concatenate(general).matrix, general.matrix)
    with pytest.raises(TypeError, match="passage.vectors.load reads a file"):
        vectors.concatenate(general, "glove.txt")
    with pytest.raises(ValueError, match="at least one"):
        vectors.concatenate()
