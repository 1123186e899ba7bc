"""The examples run as a user runs them (small settings here; the full runs are marked slow)."""
import csv
import pathlib
import re
import runpy
import sys

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from passage.datasets import load_imdb, read_kaggle_tsv

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def write_kaggle_files(folder, n_train, n_test):
    """Kaggle-format TSVs (quoted ids, escaped quotes, HTML) made from the packaged reviews."""
    (texts, labels), (test_texts, _) = load_imdb()

    def write(path, rows, labelled):
        with open(path, "w", newline="") as f:
            f.write("id\tsentiment\treview\n" if labelled else "id\treview\n")
            for i, (text, label) in enumerate(rows):
                review = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
                f.write(f'"{i}_{label}"\t{label}\t{review}\n' if labelled else f'"{i}_0"\t{review}\n')

    write(folder / "labeledTrainData.tsv", zip(texts[:n_train], labels[:n_train]), True)
    write(folder / "testData.tsv", zip(test_texts[:n_test], [0] * n_test), False)


def assert_png(path):
    assert path.read_bytes()[:4] == b"\x89PNG", f"{path} is not a PNG"


def run_example(name, *args):
    saved = sys.argv
    sys.argv = [name, *args]
    try:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    finally:
        sys.argv = saved


def test_popcorn_on_kaggle_files_writes_a_submission(tmp_path):
    write_kaggle_files(tmp_path, n_train=300, n_test=40)
    out = tmp_path / "submission.csv"
    run_example("popcorn.py", "--train", str(tmp_path / "labeledTrainData.tsv"),
                "--test", str(tmp_path / "testData.tsv"), "--out", str(out),
                "--epochs", "1", "--embedding", "8", "--hidden", "8", "--max-len", "50",
                "--save", str(tmp_path / "popcorn.passage"))
    submission = pd.read_csv(out, dtype={"id": str})
    assert list(submission.columns) == ["id", "sentiment"]
    assert submission["id"].tolist() == [f"{i}_0" for i in range(40)]
    # the rows are the saved model's predictions for the test reviews, in the file's order
    from passage.preprocessing import clean
    from passage.utils import load
    model = load(tmp_path / "popcorn.passage")
    reviews = read_kaggle_tsv(str(tmp_path / "testData.tsv"))["review"]
    expected = model.predict(model.tokenizer.transform([clean(r) for r in reviews]))[:, 0]
    assert_allclose(submission["sentiment"].to_numpy(), expected, rtol=1e-5)


def test_popcorn_ensemble_submits_the_mean_of_its_saved_members(tmp_path, capsys):
    write_kaggle_files(tmp_path, n_train=200, n_test=30)
    out = tmp_path / "submission.csv"
    run_example("popcorn.py", "--train", str(tmp_path / "labeledTrainData.tsv"),
                "--test", str(tmp_path / "testData.tsv"), "--out", str(out), "--ensemble", "2", "--seed", "1",
                "--epochs", "1", "--embedding", "8", "--hidden", "8", "--max-len", "50",
                "--save", str(tmp_path / "popcorn.passage"))
    assert "member 2 of 2 (seed 3)" in capsys.readouterr().out  # seeds 2 and 3: seed * 2 + i
    from passage.preprocessing import clean
    from passage.utils import load
    reviews = [clean(r) for r in read_kaggle_tsv(str(tmp_path / "testData.tsv"))["review"]]
    members = [load(tmp_path / f"popcorn-{i}.passage") for i in (1, 2)]
    each = [m.predict(m.tokenizer.transform(reviews))[:, 0] for m in members]
    assert members[0].seed == 2 and members[1].seed == 3 and not np.allclose(each[0], each[1])
    assert_allclose(pd.read_csv(out)["sentiment"].to_numpy(), (each[0] + each[1]) / 2, rtol=1e-5)
    with pytest.raises(SystemExit):
        run_example("popcorn.py", "--ensemble", "0")
    assert "--ensemble is a number of models" in capsys.readouterr().err


def test_popcorn_refit_trains_every_member_on_all_texts_for_the_epochs_the_first_validated(tmp_path, capsys,
                                                                                            monkeypatch):
    from passage.models import RNN
    fits, fit = [], RNN.fit

    def recorded(self, X, Y, **settings):
        fits.append((len(X), settings["n_epochs"], settings.get("validation_split"), self.seed))
        return fit(self, X, Y, **settings)
    monkeypatch.setattr(RNN, "fit", recorded)
    write_kaggle_files(tmp_path, n_train=200, n_test=30)
    run_example("popcorn.py", "--train", str(tmp_path / "labeledTrainData.tsv"), "--test", str(tmp_path / "testData.tsv"),
                "--out", str(tmp_path / "submission.csv"), "--ensemble", "2", "--refit", "--epochs", "3",
                "--embedding", "8", "--hidden", "8", "--max-len", "50", "--epoch-size", "0")
    chosen = int(re.search(r"refit: again from the same start on all 200 training texts for (\d+) epochs",
                           capsys.readouterr().out).group(1))
    assert 1 <= chosen <= 3
    # member 1 validates on a tenth and chooses, then trains again on all 200; member 2 only trains on all 200
    assert fits == [(200, 3, 0.1, 0), (200, chosen, None, 0), (200, chosen, None, 1)]
    with pytest.raises(SystemExit):
        run_example("popcorn.py", "--refit", "--blend")
    assert "--blend needs a held-out tenth" in capsys.readouterr().err


def test_popcorn_best_is_four_default_models_refitted_for_the_epochs_one_validation_chose():
    popcorn = runpy.run_path(str(EXAMPLES / "popcorn.py"))
    default, best = vars(popcorn["arguments"]([])[1]), vars(popcorn["arguments"](["--best"])[1])
    changed = {key: (default[key], best[key]) for key in default if default[key] != best[key]}
    assert changed == {"best": (False, True), "ensemble": (1, 4), "patience": (2, 1), "refit": (False, True)}


@pytest.mark.slow
def test_popcorn_quick_scores_above_chance_and_its_saved_model_plots_embeddings(capsys, tmp_path):
    run_example("popcorn.py", "--quick", "--save", str(tmp_path / "popcorn.passage"))
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("RNN: test ROC AUC")][0]
    assert float(line.split()[4]) > 0.65
    run_example("embeddings.py", str(tmp_path / "popcorn.passage"), "--out", str(tmp_path / "embeddings.png"))
    assert "words plotted" in capsys.readouterr().out
    assert_png(tmp_path / "embeddings.png")


@pytest.mark.slow
def test_showdown_quick_prints_the_table_and_plots(capsys, tmp_path):
    run_example("showdown.py", "--quick", "--out-dir", str(tmp_path))
    out = capsys.readouterr().out
    assert "| training reviews | TF-IDF + LR AUC | RNN AUC |" in out and "curves cross" in out
    rows = [line for line in out.splitlines() if line.startswith("| 1,000 |")]
    linear_auc, rnn_auc = (float(cell) for cell in rows[0].split("|")[2:4])
    assert linear_auc > 0.8 and rnn_auc > 0.5
    assert_png(tmp_path / "showdown.png")


@pytest.mark.slow
def test_showdown_blend_adds_a_column_beside_the_rnn(capsys, tmp_path):
    run_example("showdown.py", "--quick", "--blend", "--out-dir", str(tmp_path))
    out = capsys.readouterr().out
    assert "| RNN + TF-IDF blend AUC |" in out and "RNN + TF-IDF blend  AUC" in out
    row = [line for line in out.splitlines() if line.startswith("| 1,000 |")][0].split("|")
    linear_auc, rnn_auc, blend_auc = float(row[2]), float(row[3]), float(row[5])
    assert blend_auc >= min(linear_auc, rnn_auc)  # weighed on held-out reviews: not below both
    assert_png(tmp_path / "showdown.png")


@pytest.mark.slow
def test_ablation_quick_compares_naive_with_all_tricks(capsys, tmp_path):
    run_example("ablation.py", "--quick", "--out-dir", str(tmp_path))
    out = capsys.readouterr().out
    assert "naive" in out and "all tricks" in out
    assert_png(tmp_path / "ablation.png")


@pytest.mark.slow
def test_the_talks_program_runs_unchanged(tmp_path):
    """DESIGN.md's program, verbatim between the markers, on Kaggle-format files."""
    from passage.preprocessing import clean
    write_kaggle_files(tmp_path, n_train=256, n_test=64)
    train = read_kaggle_tsv(str(tmp_path / "labeledTrainData.tsv"))
    test = read_kaggle_tsv(str(tmp_path / "testData.tsv"))
    texts = [clean(t) for t in train["review"]]
    trY = train["sentiment"].to_numpy()
    test_texts = [clean(t) for t in test["review"]]
    # --- the talk's program ---
    from passage.preprocessing import Tokenizer
    from passage.layers import Embedding, GatedRecurrent, Dense
    from passage.models import RNN
    from passage.updates import Adadelta

    tokenizer = Tokenizer(min_df=10, max_features=100000)
    trX = tokenizer.fit_transform(texts)                 # list of lists of int ids
    layers = [Embedding(size=256, n_features=tokenizer.n_features),
              GatedRecurrent(size=512, seq_output=False, p_drop=0.75),
              Dense(size=1, activation='sigmoid')]
    model = RNN(layers=layers, cost='bce', updater=Adadelta(lr=0.5))
    model.fit(trX, trY, n_epochs=10)
    pr = model.predict(tokenizer.transform(test_texts)).flatten()
    # --- end ---
    pd.DataFrame({"id": test["id"], "sentiment": pr}).to_csv(tmp_path / "submission.csv", index=False)
    assert pr.shape == (64,) and np.std(pr) > 0  # one prediction per review, not a constant
    with open(tmp_path / "submission.csv") as f:
        assert next(csv.reader(f)) == ["id", "sentiment"]
    assert_allclose(pd.read_csv(tmp_path / "submission.csv")["sentiment"].to_numpy(), pr, rtol=1e-6)


@pytest.mark.slow
def test_tagging_quick_compares_four_taggers_on_real_tokens(capsys):
    sys.argv, saved = ["tagging.py", "--quick", "--verbose", "0"], sys.argv
    try:
        results = runpy.run_path(str(EXAMPLES / "tagging.py"))["main"]()
    finally:
        sys.argv = saved
    assert list(results) == ["majority label per word", "LogisticRegression, window +-2", "forward GRU",
                             "Bidirectional GRU"]
    majority = results["majority label per word"]["accuracy"]
    assert 0.85 < majority < results["LogisticRegression, window +-2"]["accuracy"]
    assert results["Bidirectional GRU"]["accuracy"] > majority  # it learned more than "everything is lower"
    assert "| Bidirectional GRU |" in capsys.readouterr().out


@pytest.mark.slow
def test_charlm_quick_scores_the_gru_compressors_and_ngrams_on_the_same_text_and_samples(capsys):
    sys.argv, saved = ["charlm.py", "--quick"], sys.argv
    try:
        results = runpy.run_path(str(EXAMPLES / "charlm.py"))["main"]()
    finally:
        sys.argv = saved
    bits = results["bits"]
    assert set(bits) >= {"lzma (xz -9)", "bz2 (-9)", "zlib (-9)", "order-5 n-gram, Witten-Bell", results["model"]}
    assert 1.0 < bits["lzma (xz -9)"] < 4.0 and bits["order-5 n-gram, Witten-Bell"] < bits["zlib (-9)"]
    assert bits[results["model"]] < 4.0  # a small GRU after 2 minutes: far below 8 bits, not yet a winner
    out = capsys.readouterr().out
    assert "temperature 0.5:\nThis movie was " in out and "temperature 1.0:\nThis movie was " in out


@pytest.mark.slow
def test_popcorn_pretrain_trains_a_language_model_that_beats_uniform_and_then_the_classifier(capsys):
    run_example("popcorn.py", "--n-train", "300", "--max-len", "50", "--epochs", "1", "--embedding", "16",
                "--hidden", "16", "--lm-vocabulary", "500", "--pretrain")
    out = capsys.readouterr().out
    line = [l for l in out.splitlines() if l.startswith("language model of")][0]
    assert float(line.split("validation perplexity ")[1].split()[0]) < 500 / 2  # far better than uniform
    assert "test ROC AUC" in out


@pytest.mark.slow
def test_popcorn_reads_both_ways_pools_and_blends_with_tfidf(capsys):
    run_example("popcorn.py", "--n-train", "400", "--max-len", "50", "--epochs", "1", "--embedding", "16",
                "--hidden", "16", "--bidirectional", "--pool", "max,mean", "--blend")
    out = capsys.readouterr().out
    assert "RNN: test ROC AUC" in out and "RNN + TF-IDF blend: test ROC AUC" in out and "blend: TF-IDF + LR" in out


@pytest.mark.slow
def test_rotten_quick_scores_both_models_on_the_same_folds(capsys):
    run_example("rotten.py", "--folds", "2", "--quick")
    out = capsys.readouterr().out
    assert "RNNClassifier: accuracy" in out and "TF-IDF + LR: accuracy" in out and "over 2 folds" in out
    chosen = re.search(r"epochs chosen by validation, fold by fold: (\d) (\d) \(of at most 2\)", out)
    assert chosen and {int(e) for e in chosen.groups()} <= {1, 2}


def test_rotten_vectors_joined_by_commas_are_set_side_by_side(tmp_path):
    word_vectors = runpy.run_path(str(EXAMPLES / "rotten.py"))["word_vectors"]
    (tmp_path / "general.txt").write_text("the 0.1 0.2\nfilm 1.0 -1.0\n")
    (tmp_path / "domain.txt").write_text("2 3\nfilm 1 2 3\ngripping 3 2 1\n")
    both = word_vectors(f"{tmp_path / 'general.txt'},{tmp_path / 'domain.txt'}")
    assert both.words == ["the", "film", "gripping"] and both.dim == 5
    one = str(tmp_path / "general.txt")
    assert word_vectors(one) == one  # one file: the estimator reads it


def test_rotten_blend_weighs_two_models_on_a_tenth_that_neither_trained_on_then_refits_them():
    from sklearn.dummy import DummyClassifier
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from passage.datasets import load_rotten_tomatoes
    HeldOutBlend = runpy.run_path(str(EXAMPLES / "rotten.py"))["HeldOutBlend"]
    texts, labels = load_rotten_tomatoes()
    texts, labels = texts[::4], np.array(["bad", "good"])[labels[::4]]  # 2,133 sentences, labels of any type
    words = make_pipeline(CountVectorizer(), LogisticRegression(max_iter=1000))
    held_out = HeldOutBlend(words, DummyClassifier(strategy="prior"), refit=False, random_state=1)
    held_out.fit(texts[:2000], labels[:2000])
    # trained on nine tenths: the words of the held-out tenth alone are missing from the vocabulary
    assert len(held_out.first_[0].vocabulary_) < len(CountVectorizer().fit(texts[:2000]).vocabulary_)
    assert 0.5 <= held_out.weight_ < 1.0  # words beat the prior; shrinking toward it calibrates the words' model
    blend = HeldOutBlend(words, DummyClassifier(strategy="prior"), random_state=1).fit(texts[:2000], labels[:2000])
    assert blend.weight_ == held_out.weight_  # the same weight, then both trained again on all the data
    assert len(blend.first_[0].vocabulary_) == len(CountVectorizer().fit(texts[:2000]).vocabulary_)
    P = blend.predict_proba(texts[2000:])
    assert_allclose(P, blend.weight_ * blend.first_.predict_proba(texts[2000:])
                    + (1 - blend.weight_) * blend.second_.predict_proba(texts[2000:]))
    assert list(blend.classes_) == ["bad", "good"] and list(blend.predict(texts[2000:])) == list(
        blend.classes_[P.argmax(axis=1)])


@pytest.mark.slow
def test_rotten_blend_row_stands_beside_the_rnn_row(capsys):
    run_example("rotten.py", "--folds", "1", "--quick", "--blend", "--seed", "1")
    out = capsys.readouterr().out
    assert "'random_state': 1" in out and "RNNClassifier: accuracy" in out and "RNN + TF-IDF blend: accuracy" in out and "RNN weight" in out


@pytest.mark.slow
def test_rotten_ensemble_averages_estimators_of_different_seeds_each_refitted(capsys):
    run_example("rotten.py", "--folds", "1", "--quick", "--ensemble", "2", "--no-linear", "--refit")
    out = capsys.readouterr().out
    assert "2 RNNClassifiers averaged: accuracy" in out and "over 1 folds" in out and "'refit': True" in out


def test_word_vectors_writes_word2vec_of_the_estimators_tokens(tmp_path, capsys):
    pytest.importorskip("gensim")
    from passage import vectors

    out = tmp_path / "w2v.txt"
    run_example("word_vectors.py", "--reviews", "300", "--dim", "8", "--epochs", "1", "--out", str(out))
    assert "300 reviews" in capsys.readouterr().out
    found = vectors.load(out)
    assert found.dim == 8 and {"the", "movie", ",", "don't"} <= set(found.words)  # punctuation, contractions
    assert not any(word != word.lower() for word in found.words) and "<br" not in found.words
    again = tmp_path / "again.txt"
    run_example("word_vectors.py", "--reviews", "300", "--dim", "8", "--epochs", "1", "--out", str(again))
    assert out.read_bytes() == again.read_bytes()  # one worker, a fixed hash: the same file each run
