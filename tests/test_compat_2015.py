"""Programs written for the 2015 library run unchanged and mean what they meant.

The three example programs in ``tests/programs_2015`` (the 2015 examples' calls, on local data) are
run whole; then each 2015 call form that differs from today's spelling is checked on its own.
"""
import json
import logging
import runpy
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from passage import serialization
from passage.iterators import Linear, Padded, SortedPadded
from passage.layers import Bidirectional, Dense, Embedding, GatedRecurrent, LstmRecurrent, Pooling
from passage.models import RNN
from passage.preprocessing import LenFilter
from passage.updates import Adam
from passage.utils import load, save

PROGRAMS = Path(__file__).parent / "programs_2015"


def run_program(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PASSAGE_2015_SMALL", "1")
    monkeypatch.syspath_prepend(str(PROGRAMS))
    return runpy.run_path(str(PROGRAMS / name), run_name="__main__")


def test_the_2015_mnist_program_learns_digits_with_the_linear_iterator(tmp_path, monkeypatch):
    program = run_program("mnist.py", tmp_path, monkeypatch)
    assert type(program["model"].iterator) is Linear
    assert program["te_acc"] >= 0.6  # 0.82 measured on 600 digits; chance is 0.1


@pytest.mark.parametrize("name, path", [("newsgroup.py", "model.pkl"), ("gender.py", "save_test.pkl")])
def test_the_2015_text_programs_save_a_safe_file_that_loads_the_same_model(name, path, tmp_path, monkeypatch):
    program = run_program(name, tmp_path, monkeypatch)
    assert zipfile.is_zipfile(tmp_path / path)  # our format, never a pickle, whatever the name says
    teX = program.get("teX", program.get("X_test"))
    assert_allclose(load(tmp_path / path).predict(teX), program["model"].predict(teX), rtol=1e-6)


# ---- RNN(Y=..., iterator=...) and the iterators -------------------------------------------------------

IDS = [[1, 2, 3], [4], [5, 6], [7, 8, 9, 1], [2, 2], [3]]
LABELS = [1, 0, 1, 0, 1, 0]


def small_model(**kwargs):
    return RNN([Embedding(4, 10), GatedRecurrent(5), Dense(1, activation="sigmoid")], verbose=0, seed=0, **kwargs)


def test_rnn_takes_the_2015_y_and_iterator_arguments(tmp_path):
    assert type(small_model(Y=object(), iterator="padded").iterator) is Padded
    sized = small_model(iterator=SortedPadded(size=2, shuffle=False))
    assert sized._iterator(None).size == 2  # the iterator's size is fit's batch size
    sized.fit(IDS, LABELS, n_epochs=1)
    save(sized, tmp_path / "model.passage")
    loaded = load(tmp_path / "model.passage").iterator
    assert (type(loaded), loaded.size, loaded.shuffle) == (SortedPadded, 2, False)


def test_padded_iterator_without_shuffle_trains_in_the_data_order():
    batches = [list(indices) for indices, _, _ in Padded(size=4, shuffle=False).train(IDS, np.random.default_rng(0))]
    assert batches == [[0, 1, 2, 3], [4, 5]]


def test_the_2015_iterx_and_iterxy_give_time_major_batches_padded_at_the_start():
    (x,) = list(Padded(size=6).iterX([[1, 2, 3], [4]]))
    assert_array_equal(x, [[1, 0], [2, 0], [3, 4]])
    assert x.dtype == np.int32
    seen = []
    for x, indices in SortedPadded(size=2).iterX(IDS):
        assert x.shape[1] == len(indices)
        seen += list(indices)
    assert sorted(seen) == list(range(len(IDS)))
    pairs = list(Padded(size=4, y_dtype=np.int64).iterXY(IDS, LABELS))
    assert [len(y) for _, y in pairs] == [4, 2] and pairs[0][1].dtype == np.int64
    images = np.arange(2 * 3 * 5, dtype=float).reshape(2, 3, 5)  # (examples, time, features)
    (x,) = list(Linear().iterX(images))
    assert_array_equal(x, images.transpose(1, 0, 2))


# ---- fit(len_filter, snapshot_freq, path) -------------------------------------------------------------

def test_fit_takes_a_len_filter_as_its_fifth_argument():
    keep = LenFilter(max_len=2, min_max_len=0, percentile=0)
    assert keep.filter(IDS, LABELS) == ([[4], [5, 6], [2, 2], [3]], [0, 1, 1, 0])
    filtered, by_hand = small_model(), small_model()
    filtered.fit(IDS, LABELS, 64, 2, keep)
    by_hand.fit(*keep.filter(IDS, LABELS), n_epochs=2)
    for a, b in zip(filtered.get_weights().values(), by_hand.get_weights().values()):
        assert_array_equal(a, b)


def test_fit_with_a_path_saves_a_snapshot_every_snapshot_freq_epochs(tmp_path):
    model = small_model()
    model.fit(IDS, LABELS, n_epochs=3, snapshot_freq=2, path=tmp_path / "model.pkl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pkl.0", "model.pkl.2"]
    assert zipfile.is_zipfile(tmp_path / "model.pkl.2")
    assert_allclose(load(tmp_path / "model.pkl.2").predict(IDS), model.predict(IDS), rtol=1e-6)


# ---- Adam(b1, b2, e), hard_sigmoid, maxout and files written before the 2015 meanings -----------------

def test_the_2015_adam_arguments_are_one_minus_the_decay_rates(caplog):
    with caplog.at_level(logging.WARNING, logger="passage"):
        old = Adam(0.01, 0.1, 0.001, 1e-6)
    assert "beta1=0.9" in caplog.text
    today = Adam(lr=0.01, beta1=0.9, beta2=0.999, epsilon=1e-6)
    assert old.get_config() == today.get_config()
    assert Adam(b1=0.2).beta1 == pytest.approx(0.8) and Adam().beta1 == 0.9
    with pytest.raises(ValueError, match="decay rate"):
        Adam(b1=1.5)


def test_a_maxout_dense_layer_outputs_the_larger_of_each_column_pair():
    model = RNN([Embedding(3, 10), GatedRecurrent(4), Dense(6, activation="maxout"), Dense(1, "sigmoid")],
                verbose=0, seed=0)
    assert model.layers[2].n_out == 3 and model.layers[3].W.get_value().shape == (3, 1)
    model.fit(IDS, LABELS, n_epochs=1)
    with pytest.raises(ValueError, match="even"):
        Dense(5, activation="maxout")
    with pytest.raises(ValueError, match="maxout"):
        LstmRecurrent(4, activation="maxout")


def rewritten(path, edit) -> None:
    """Rewrite the configuration of the model file at ``path`` with ``edit`` (as an older version wrote it)."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(entries["passage.json"])
    edit(config)
    entries["passage.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)


def test_a_version_2_file_pools_the_last_step_of_every_feature_as_it_did_then(tmp_path):
    model = RNN([Embedding(3, 10), Bidirectional(GatedRecurrent(4, seq_output=True)), Pooling("last"),
                 Dense(1, "sigmoid")], verbose=0, seed=0)
    assert model.layers[2].backward == 4  # today: the backward half's summary, at the first step
    then = RNN([Embedding(3, 10), Bidirectional(GatedRecurrent(4, seq_output=True)), Pooling("last", backward=0),
                Dense(1, "sigmoid")], verbose=0, seed=0)
    then.set_weights(model.get_weights())
    path = tmp_path / "v2.passage"
    save(model, path)
    assert_allclose(load(path).predict(IDS), model.predict(IDS), rtol=1e-6)  # today's file keeps today's meaning

    def as_version_2(config):
        config["version"] = 2
        del config["model"]["layers"][2]["config"]["backward"]

    rewritten(path, as_version_2)
    old = load(path)
    assert old.layers[2].backward == 0
    assert_allclose(old.predict(IDS), then.predict(IDS), rtol=1e-6)
    assert np.abs(then.predict(IDS) - model.predict(IDS)).max() > 1e-4  # the two meanings differ


def test_a_version_1_file_keeps_what_its_names_meant_then(tmp_path):
    model = RNN([Embedding(3, 10), GatedRecurrent(4, gate_activation="theano_hard_sigmoid"), Dense(1, "sigmoid")],
                updater=Adam(beta1=0.8, beta2=0.99), verbose=0, seed=0)
    model.fit(IDS, LABELS, n_epochs=1)
    path = tmp_path / "old.passage"
    save(model, path)

    def as_version_1(config):
        config["version"] = 1
        config["model"]["layers"][1]["config"]["gate_activation"] = "hard_sigmoid"
        adam = config["model"]["updater"]["config"]
        adam["b1"], adam["b2"] = adam.pop("beta1"), adam.pop("beta2")

    rewritten(path, as_version_1)
    old = load(path)
    assert old.layers[1].gate_activation.__name__ == "theano_hard_sigmoid"
    assert (old.updater.beta1, old.updater.beta2) == (0.8, 0.99)
    assert_allclose(old.predict(IDS), model.predict(IDS), rtol=1e-6)
    assert serialization.VERSION == 3
