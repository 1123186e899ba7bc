"""The ``passage`` command line: train -> predict -> evaluate on files, and one-line errors."""
import subprocess
import sys

import pandas as pd
import pytest

from passage.cli import main
from passage.utils import load
from test_sklearn import LABELS, TEXTS

SMALL = ["--epochs", "8", "--epoch-size", "0", "--batch-size", "16", "--embedding-size", "16", "--hidden-size", "16",
         "--lr", "0.02", "--min-df", "1", "--seed", "0", "--quiet"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    table = pd.DataFrame({"id": range(400), "review": TEXTS, "sentiment": LABELS})
    table.iloc[:300].to_csv(folder / "train.csv", index=False)
    table.iloc[300:].to_csv(folder / "test.tsv", sep="\t", index=False)
    table.iloc[300:].to_json(folder / "test.jsonl", orient="records", lines=True)
    assert main(["train", str(folder / "train.csv"), "--text", "review", "--label", "sentiment",
                 "--out", str(folder / "model.passage"), *SMALL]) == 0
    return folder


def test_train_predict_evaluate_round_trip(files, capsys):
    out = files / "predictions.csv"
    assert main(["predict", str(files / "model.passage"), str(files / "test.jsonl"), "--text", "review",
                 "--out", str(out), "--keep", "id", "--chunk-size", "30", "--quiet"]) == 0
    predictions = pd.read_csv(out)
    assert list(predictions.columns) == ["id", "prediction", "probability_bad", "probability_good"]
    assert predictions["id"].tolist() == list(range(300, 400))  # every chunk, in order
    assert (predictions["prediction"] == LABELS[300:]).mean() >= 0.9
    capsys.readouterr()
    assert main(["evaluate", str(files / "model.passage"), str(files / "test.tsv"), "--text", "review",
                 "--label", "sentiment"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("accuracy ") and "roc_auc" in line and "(100 rows)" in line


def test_regression_from_the_command_line(files, capsys):
    table = pd.DataFrame({"review": TEXTS[:200], "stars": [5.0 if "great" in t else 1.0 for t in TEXTS[:200]]})
    table.to_csv(files / "stars.csv", index=False)
    assert main(["train", str(files / "stars.csv"), "--text", "review", "--label", "stars", "--regression",
                 "--refit", "--out", str(files / "stars.passage"), *SMALL]) == 0
    assert load(files / "stars.passage").refit is True  # 20 rows validated, then all 200 trained on
    assert main(["evaluate", str(files / "stars.passage"), str(files / "stars.csv"), "--text", "review",
                 "--label", "stars"]) == 0
    assert capsys.readouterr().out.startswith("r2 ")


@pytest.mark.parametrize("arguments, message", [
    (["evaluate", "{model}", "{dir}/test.tsv", "--text", "review", "--label", "stars"], "has no column 'stars'"),
    (["predict", "{model}", "{dir}/empty.csv", "--text", "review", "--out", "{dir}/x.csv"], "empty.csv is empty"),
    (["predict", "{model}", "{dir}/nothing.csv", "--text", "review", "--out", "{dir}/x.csv"], "no such file"),
    (["predict", "{dir}/junk.passage", "{dir}/test.tsv", "--text", "review", "--out", "{dir}/x.csv"],
     "not a Passage model file"),
    (["evaluate", "{model}", "{dir}/unseen.csv", "--text", "review", "--label", "sentiment"],
     "label 'ugly', which the model never saw"),
    (["train", "{dir}/unseen.csv", "--text", "review", "--label", "sentiment", "--out", "{dir}/m.passage",
      "--quiet"], "needs at least two"),  # refused by the estimator, in one line
])
def test_problems_are_one_line_on_stderr_and_a_nonzero_exit(files, capsys, arguments, message):
    (files / "empty.csv").write_text("")
    (files / "junk.passage").write_text("junk")
    pd.DataFrame({"review": ["a film"], "sentiment": ["ugly"]}).to_csv(files / "unseen.csv", index=False)
    filled = [a.format(model=files / "model.passage", dir=files) for a in arguments]
    assert main(filled) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1 and "Traceback" not in error


def test_the_module_and_the_console_script_run():
    result = subprocess.run([sys.executable, "-m", "passage", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "train" in result.stdout and "evaluate" in result.stdout
