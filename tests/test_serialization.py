"""Model files: save -> load gives the same predictions; loading is safe; writes are atomic."""
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
from numpy.testing import assert_allclose

from passage import serialization
from passage.layers import Dense, Embedding, GatedRecurrent, Generic, LstmRecurrent, OneHot, SimpleRecurrent
from passage.models import RNN
from passage.preprocessing import Tokenizer
from passage.serialization import ModelFileError
from passage.updates import Adadelta, Regularizer
from passage.utils import load, save  # the 2015 library's import path

IDS = [[1, 2, 3], [], [4, 5, 6, 7, 8, 9], [2]]


def trained_model(**kwargs):
    layers = [Embedding(6, 12), GatedRecurrent(5, seq_output=True, p_drop=0.2),
              LstmRecurrent(4, direction="backward", inner_init="identity"), Dense(3, activation="softmax")]
    model = RNN(layers, cost="cce", updater=Adadelta(lr=0.5, clipnorm=5, regularizer=Regularizer(l2=1e-4)),
                seed=2, verbose=0, **kwargs)
    model.fit(IDS, [0, 1, 2, 1], n_epochs=2)
    return model


def test_save_then_load_predicts_the_same_and_keeps_the_tokenizer(tmp_path):
    texts = ["a good film", "a bad film", "good good", "bad"]
    tokenizer = Tokenizer(min_df=1)
    X = tokenizer.fit_transform(texts)
    model = RNN([Embedding(4, tokenizer.n_features), SimpleRecurrent(3, activation="rectify"),
                 Dense(1, activation="sigmoid")], verbose=0, seed=0)
    model.fit(X, [1, 0, 1, 0], n_epochs=2)
    save(model, tmp_path / "sentiment.passage", tokenizer=tokenizer)
    loaded = load(tmp_path / "sentiment.passage")
    assert loaded.tokenizer.transform(texts) == X
    assert_allclose(loaded.predict(X), model.predict(X), rtol=0, atol=0)
    assert loaded.updater.__class__ is model.updater.__class__ and loaded.seed == 0
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "sentiment.passage").stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_every_layer_and_updater_setting_round_trips(tmp_path):
    model = trained_model()
    model.save(tmp_path / "model.passage")
    loaded = load(tmp_path / "model.passage")
    assert loaded.get_config() == model.get_config()
    assert_allclose(loaded.predict(IDS), model.predict(IDS), rtol=0, atol=0)
    assert loaded.tokenizer is None
    generic = RNN([Generic(2), GatedRecurrent(3), Dense(2, activation="linear")], cost="mse", verbose=0)
    sequences = [np.ones((3, 2)), np.zeros((1, 2))]
    save(generic, tmp_path / "generic.passage")
    assert_allclose(load(tmp_path / "generic.passage").predict(sequences), generic.predict(sequences))
    one_hot = RNN([OneHot(10), GatedRecurrent(3), Dense(1, activation="sigmoid")], verbose=0)
    save(one_hot, tmp_path / "one_hot.passage")
    assert_allclose(load(tmp_path / "one_hot.passage").predict(IDS), one_hot.predict(IDS))


def test_a_checkpoint_loads_as_a_model(tmp_path):
    model = RNN([Embedding(4, 12), GatedRecurrent(3), Dense(1, activation="sigmoid")], verbose=0, seed=1)
    model.fit(IDS, [0, 1, 1, 0], n_epochs=2, checkpoint=tmp_path / "run.ckpt")
    assert_allclose(load(tmp_path / "run.ckpt").predict(IDS), model.predict(IDS))


def test_a_crash_mid_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.passage"
    first = trained_model()
    save(first, path)
    written = []

    def crash_after_two_arrays(file, array, **kwargs):
        if len(written) == 2:
            raise OSError("disk full")
        written.append(array)
        return original(file, array, **kwargs)

    original = np.lib.format.write_array
    monkeypatch.setattr(np.lib.format, "write_array", crash_after_two_arrays)
    second = RNN([Embedding(6, 12), GatedRecurrent(5, seq_output=True), LstmRecurrent(4, direction="backward"),
                  Dense(3, activation="softmax")], cost="cce", seed=99, verbose=0)
    with pytest.raises(OSError, match="disk full"):
        save(second, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.passage"]  # no temporary file left behind
    assert_allclose(load(path).predict(IDS), first.predict(IDS), rtol=0, atol=0)


class Payload:
    """Unpickling this would create a file: proof that code from the file ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "payload_ran"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ModelFileError, match="not a Passage model file"):
        load(path)
    assert not marker.exists()


def test_a_pickled_array_inside_a_model_file_is_refused_without_running_it(tmp_path):
    path, marker = tmp_path / "model.passage", tmp_path / "payload_ran"
    save(trained_model(), path)
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    entries["arrays/layers/0/W.npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    with pytest.raises(ModelFileError, match="unsafe"):
        load(path)
    assert not marker.exists()


def test_truncated_corrupt_foreign_and_future_files_get_a_clear_error(tmp_path):
    path = tmp_path / "model.passage"
    save(trained_model(), path)
    content = path.read_bytes()
    truncated = tmp_path / "truncated.passage"
    truncated.write_bytes(content[: len(content) // 2])
    corrupt = tmp_path / "corrupt.passage"
    corrupt.write_bytes(content[:3000] + bytes(b ^ 0xFF for b in content[3000:3100]) + content[3100:])
    text = tmp_path / "notes.txt"
    text.write_text("just some text")
    for bad in (truncated, corrupt, text):
        with pytest.raises(ModelFileError, match="corrupt or truncated|damaged|not a Passage model file"):
            load(bad)
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(entries["passage.json"])
    future, foreign = tmp_path / "future.passage", tmp_path / "foreign.zip"
    serialization.write(future, {**config, "version": 99}, {})
    with pytest.raises(ModelFileError, match="version 99.*upgrade"):
        load(future)
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("data.json", "{}")
    with pytest.raises(ModelFileError, match="not a Passage model file"):
        load(foreign)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.passage")


def test_unknown_layer_classes_in_a_file_are_refused(tmp_path):
    path = tmp_path / "model.passage"
    model = trained_model()
    config = model.get_config()
    config["model"]["layers"][1]["class"] = "os.system"
    serialization.write(path, config, {})
    with pytest.raises(ModelFileError, match="unknown layer class 'os.system'"):
        load(path)


def test_a_model_with_an_unnamed_custom_cost_says_it_cannot_be_saved(tmp_path):
    model = RNN([Embedding(4, 12), GatedRecurrent(3), Dense(1, activation="linear")],
                cost=lambda Y, Yhat: ((Y - Yhat) ** 2).mean(), verbose=0)
    with pytest.raises(ValueError, match="cannot be saved"):
        save(model, tmp_path / "model.passage")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("layer, field, value", [
    (0, "n_features", 10 ** 12),   # a terabyte embedding
    (1, "size", 2 ** 40),
    (1, "size", -3),
    (1, "size", "many"),
    (2, "size", 7),                # a plausible size that simply does not match the arrays
])
def test_declared_shapes_are_checked_against_the_stored_arrays_before_anything_is_allocated(
        tmp_path, layer, field, value):
    path = tmp_path / "model.passage"
    model = trained_model()
    save(model, path)
    config, arrays = serialization.read(path)
    config["model"]["layers"][layer]["config"][field] = value
    serialization.write(path, config, arrays)
    with pytest.raises(ModelFileError, match="does not match its own configuration|does not describe a model"):
        load(path)


def test_a_file_whose_arrays_lack_a_parameter_is_refused(tmp_path):
    path = tmp_path / "model.passage"
    save(trained_model(), path)
    config, arrays = serialization.read(path)
    del arrays["layers/1/U_h"]
    serialization.write(path, config, arrays)
    with pytest.raises(ModelFileError, match=r"arrays missing \['1/U_h'\]"):
        load(path)
