"""The ``passage`` command line: train, predict and evaluate text models on CSV, TSV or JSON-lines files.

    passage train data.csv --text review --label sentiment --out model.passage [--epochs 6 --cell lstm ...]
    passage predict model.passage new.csv --text review --out predictions.csv
    passage evaluate model.passage test.csv --text review --label sentiment

Also ``python -m passage``. ``train`` fits a :class:`passage.sklearn.RNNClassifier` (or, with
``--regression``, an ``RNNRegressor``) with a progress bar and the validation metric per epoch;
``predict`` reads and writes in chunks of ``--chunk-size`` rows, so memory stays flat however long
the file. A problem (a missing column, an empty file, a label the model never saw, an unreadable
model file) is one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd
from sklearn import metrics

from passage.serialization import ModelFileError
from passage.sklearn import RNNClassifier, RNNRegressor, load_estimator

__all__ = ["main"]

FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}


class CommandError(Exception):
    """A problem with the user's files or arguments: reported in one line, no traceback."""


# ---- reading and writing tables ---------------------------------------------------------------------

def _format(path: str, given: str | None) -> str:
    if given:
        return given
    extension = os.path.splitext(path.removesuffix(".gz"))[1].lower()
    if extension not in FORMATS:
        raise CommandError(f"cannot tell the format of {path} from its name; give --format csv, tsv or jsonl")
    return FORMATS[extension]


def read_chunks(path: str, columns: list[str], chunk_size: int, file_format: str | None = None):
    """Yield DataFrames of at most ``chunk_size`` rows holding ``columns`` (each checked to exist)."""
    if not os.path.exists(path):
        raise CommandError(f"{path}: no such file")
    kind = _format(path, file_format)
    try:
        if kind == "jsonl":
            reader = pd.read_json(path, lines=True, chunksize=chunk_size, dtype=False)
        else:
            reader = pd.read_csv(path, sep="\t" if kind == "tsv" else ",", chunksize=chunk_size, dtype=str,
                                 keep_default_na=False)
        rows = 0
        for chunk in reader:
            missing = [c for c in columns if c not in chunk.columns]
            if missing:
                raise CommandError(f"{path} has no column {missing[0]!r}; its columns are {list(chunk.columns)}")
            rows += len(chunk)
            yield chunk
    except pd.errors.EmptyDataError:
        raise CommandError(f"{path} is empty") from None
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as error:
        raise CommandError(f"{path} could not be read as {kind}: {error}") from None
    if rows == 0:
        raise CommandError(f"{path} has a header but no rows")


def read_table(path, columns, file_format=None):
    return pd.concat(list(read_chunks(path, columns, 100_000, file_format)), ignore_index=True)


def _texts(frame, column: str) -> list[str]:
    return ["" if value is None else str(value) for value in frame[column].tolist()]


def _labels(frame, column: str, regression: bool) -> np.ndarray:
    values = frame[column]
    if regression:
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.isna().any():
            bad = values[numbers.isna()].iloc[0]
            raise CommandError(f"column {column!r} must hold numbers for --regression; found {bad!r}")
        return numbers.to_numpy(dtype=float)
    return _as_numbers_if_all_are(values.to_numpy())


def _as_numbers_if_all_are(values: np.ndarray) -> np.ndarray:
    """CSV cells are text: labels '0'/'1' become integers, so the model's classes are 0 and 1."""
    try:
        as_int = values.astype(np.int64)
        return as_int if (as_int.astype(str) == values.astype(str)).all() else values.astype(str)
    except (ValueError, TypeError):
        return values.astype(str)


def _say(args, message: str, end: str = "\n") -> None:
    """Progress on stderr, unless --quiet (results go to stdout or files)."""
    if not args.quiet:
        print(message, end=end, file=sys.stderr, flush=True)


# ---- the commands -------------------------------------------------------------------------------------

def train(args) -> None:
    table = read_table(args.data, [args.text, args.label], args.format)
    estimator = (RNNRegressor if args.regression else RNNClassifier)(
        tokenizer="characters" if args.characters else "words", min_df=args.min_df, max_features=args.max_features,
        max_len=args.max_len or None, embedding_size=args.embedding_size, hidden_size=args.hidden_size,
        cell=args.cell, bidirectional=args.bidirectional,
        pooling=None if args.pooling.lower() == "none" else args.pooling, vectors=args.vectors,
        p_drop=args.p_drop, word_drop=args.word_drop, adversarial=args.adversarial, updater=args.updater, lr=args.lr,
        batch_size=args.batch_size, epochs=args.epochs, epoch_size=args.epoch_size,
        validation_split=args.validation_split, patience=args.patience, random_state=args.seed, refit=args.refit,
        verbose=0 if args.quiet else 2)
    _say(args, f"training on {len(table)} rows of {args.data}")
    estimator.fit(_texts(table, args.text), _labels(table, args.label, args.regression))
    estimator.save(args.out)
    _say(args, f"saved the model to {args.out}")


def _load_estimator(path: str):
    if not os.path.exists(path):
        raise CommandError(f"{path}: no such model file")
    try:
        return load_estimator(path)
    except ModelFileError as error:
        raise CommandError(str(error)) from None


def _prediction_columns(estimator, texts: list[str]) -> dict:
    """Output columns: ``prediction`` (or one per target or label) and, for classifiers, one
    ``probability_<class>`` column per class."""
    if not hasattr(estimator, "classes_"):
        predictions = estimator.predict(texts)
        if predictions.ndim == 1:
            return {"prediction": predictions}
        return {f"prediction_{i}": predictions[:, i] for i in range(predictions.shape[1])}
    P = estimator.predict_proba(texts)
    if estimator.multilabel_:
        columns = {f"label_{c}": (P[:, i] > 0.5).astype(int) for i, c in enumerate(estimator.classes_)}
    else:
        columns = {"prediction": estimator.classes_[P.argmax(axis=1)]}
    columns.update({f"probability_{c}": P[:, i] for i, c in enumerate(estimator.classes_)})
    return columns


def predict(args) -> None:
    estimator = _load_estimator(args.model)
    keep = [c for c in (args.keep or "").split(",") if c]
    written = 0
    temporary = f"{args.out}.partial"
    try:
        for chunk in read_chunks(args.data, [args.text, *keep], args.chunk_size, args.format):
            out = pd.DataFrame({**{c: chunk[c].to_numpy() for c in keep},
                                **_prediction_columns(estimator, _texts(chunk, args.text))})
            out.to_csv(temporary, mode="w" if written == 0 else "a", header=written == 0, index=False)
            written += len(out)
            _say(args, f"\r{written} rows predicted", end="")
        os.replace(temporary, args.out)  # a finished file or none: never half a file under the name
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    _say(args, f"\rwrote {written} predictions to {args.out}")


def evaluate(args) -> None:
    estimator = _load_estimator(args.model)
    regression = not hasattr(estimator, "classes_")
    table = read_table(args.data, [args.text, args.label], args.format)
    y = _labels(table, args.label, regression)
    texts = _texts(table, args.text)
    if regression:
        predictions = estimator.predict(texts)
        print(f"r2 {metrics.r2_score(y, predictions):.4f}  mae {metrics.mean_absolute_error(y, predictions):.4f}  "
              f"({len(y)} rows)")
        return
    if estimator.multilabel_:
        raise CommandError("evaluate reads one label column; this model predicts several labels")
    known = {str(c) for c in estimator.classes_}
    unseen = sorted({str(v) for v in y} - known)
    if unseen:
        raise CommandError(f"column {args.label!r} holds the label {unseen[0]!r}, which the model never saw in "
                           f"training; it knows {sorted(known)}")
    classes = np.array([str(c) for c in estimator.classes_])
    P = estimator.predict_proba(texts)
    truth = np.array([str(v) for v in y])
    line = f"accuracy {metrics.accuracy_score(truth, classes[P.argmax(axis=1)]):.4f}"
    if len(classes) == 2 and len(set(truth)) == 2:
        line += f"  roc_auc {metrics.roc_auc_score(truth == classes[1], P[:, 1]):.4f}"
    line += f"  log_loss {metrics.log_loss(truth, P, labels=classes):.4f}  ({len(y)} rows)"
    print(line)


# ---- the parser ---------------------------------------------------------------------------------------

# what 0 means for a numeric train setting, added to its help
ZERO_MEANS = {"max_len": "; 0: no cut",
              "epoch_size": " (an epoch passes over a smaller training set until it has seen this many texts); "
                            "0: one pass per epoch",
              "adversarial": " (adversarial training: word vectors also pushed this fraction of their norm uphill; "
                             "0: off)"}


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="passage", description="Recurrent neural networks for text.")
    commands = main_parser.add_subparsers(dest="command", required=True)

    def data_arguments(command, label: bool):
        command.add_argument("data", help="a .csv, .tsv or .jsonl file (or say --format)")
        command.add_argument("--text", required=True, help="the column holding the texts")
        if label:
            command.add_argument("--label", required=True, help="the column holding the labels")
        command.add_argument("--format", choices=("csv", "tsv", "jsonl"))
        command.add_argument("--quiet", action="store_true", help="no progress output")

    fit = commands.add_parser("train", help="train a model on a labelled file and save it")
    data_arguments(fit, label=True)
    fit.add_argument("--out", required=True, help="the model file to write")
    fit.add_argument("--regression", action="store_true", help="the labels are numbers to predict")
    fit.add_argument("--characters", action="store_true", help="read characters instead of words")
    defaults = RNNClassifier().get_params()
    for name, kind in (("epochs", int), ("epoch_size", int), ("batch_size", int), ("embedding_size", int),
                       ("hidden_size", int), ("lr", float), ("p_drop", float), ("word_drop", float),
                       ("adversarial", float), ("min_df", int), ("max_features", int), ("max_len", int),
                       ("validation_split", float), ("patience", int), ("seed", int)):
        default = defaults["random_state" if name == "seed" else name]
        fit.add_argument("--" + name.replace("_", "-"), type=kind, default=default,
                         help=f"default {default}" + ZERO_MEANS.get(name, ""))
    fit.add_argument("--cell", choices=("gru", "lstm", "simple"), default=defaults["cell"])
    fit.add_argument("--bidirectional", action="store_true", help="read each text both ways")
    fit.add_argument("--refit", action="store_true", help="once validation has chosen the epoch, train again on all "
                     "of the rows for that many epochs (twice the time; pays on small data)")
    fit.add_argument("--pooling", default=defaults["pooling"], help="summarise the states over time: max, mean, "
                     f"last or a mix (default {defaults['pooling']}); none: the state after the last token")
    fit.add_argument("--vectors", help="start the word vectors from a GloVe or word2vec text file")
    fit.add_argument("--updater", default=defaults["updater"], help="adam, adadelta, rmsprop, ...")
    fit.set_defaults(run=train)

    guess = commands.add_parser("predict", help="write a model's predictions for a file, chunk by chunk")
    guess.add_argument("model")
    data_arguments(guess, label=False)
    guess.add_argument("--out", required=True, help="the CSV file to write")
    guess.add_argument("--keep", help="comma-separated input columns to copy to the output (e.g. id)")
    guess.add_argument("--chunk-size", type=int, default=10_000, help="rows read, predicted and written at a time")
    guess.set_defaults(run=predict)

    score = commands.add_parser("evaluate", help="score a model on a labelled file")
    score.add_argument("model")
    data_arguments(score, label=True)
    score.set_defaults(run=evaluate)
    return main_parser


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except (CommandError, ValueError, TypeError, OSError) as error:  # also the library's own, e.g. bad labels
        print(f"passage {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"passage {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
