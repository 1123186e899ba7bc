"""The training loop and its state: epochs, validation, early stopping, checkpoints, resume.

This is the talk's workflow: score a validation set after every epoch, keep the earliest best
weights, stop early when it stops improving, write a checkpoint each epoch and resume from one.
Ctrl-C or a diverging cost never loses training: the model keeps its last good weights.
:meth:`passage.models.RNN.fit` checks the user's arguments and hands over to :func:`train`.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from passage import compat, serialization

__all__ = ["Progress", "train", "split_validation", "passes_per_epoch", "read_checkpoint", "console_logging"]

log = logging.getLogger("passage")


def console_logging() -> None:
    """Show the epoch lines on stderr when the program has not configured logging itself."""
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)


@dataclass
class Progress:
    """Where a training run stands: what a checkpoint stores besides the weights."""
    epoch: int = 0
    history: list = field(default_factory=list)
    best_score: float | None = None
    best_epoch: int | None = None
    best_weights: dict | None = None
    validation_indices: np.ndarray | None = None  # the held-out rows of validation_split


class _Diverged(Exception):
    def __init__(self, cost: float, batch: int):
        self.cost, self.batch = cost, batch


def split_validation(model, X, Y, fraction: float, indices):
    """Hold out ``fraction`` of (X, Y) at random, or the rows at ``indices`` (a resumed run's).
    Returns (X, Y, validation X, validation Y, validation indices)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split is a fraction in (0, 1), got {fraction}")
    if indices is None:
        n_validation = int(round(len(X) * fraction))
        if not 0 < n_validation < len(X):
            raise ValueError(f"validation_split={fraction} of {len(X)} sequences leaves no "
                             "training or no validation data")
        indices = np.sort(model.rng.permutation(len(X))[:n_validation])
    held_out = np.zeros(len(X), bool)
    held_out[indices] = True
    kept = np.flatnonzero(~held_out)
    subset = model.output.subset
    return [X[i] for i in kept], subset(Y, kept), [X[i] for i in indices], subset(Y, indices), indices


def passes_per_epoch(epoch_size: int | None, n_sequences: int) -> int:
    """How many whole passes over ``n_sequences`` make an epoch of at least ``epoch_size`` sequences."""
    return 1 if epoch_size is None else max(1, -(-epoch_size // n_sequences))


def train(model, X, Y, validation, score, n_epochs: int, batch_size: int, patience: int | None,
          restore_best: bool, checkpoint, progress: Progress, snapshots=None, passes: int = 1) -> list[dict]:
    """Train ``model`` until ``n_epochs`` (counted from the start of the run) or early stopping.
    ``validation`` is (X, Y) or None; ``score`` the :class:`passage.metrics.Metric` it is judged by;
    ``snapshots`` is None or (path, every): save the model to ``path.<epoch from 0>`` (2015's ``fit(path=)``);
    an epoch makes ``passes`` passes over (X, Y), each reshuffled."""
    history = progress.history
    if passes > 1 and model.verbose:
        log.info("each epoch passes over the %d training sequences %d times", len(X), passes)
    model.history = history
    last_good = model._snapshot()
    epoch = progress.epoch
    try:
        while epoch < n_epochs:
            if patience is not None and progress.best_epoch is not None and epoch - progress.best_epoch >= patience:
                log.info("stopping early: no better %s for %d epoch%s (best: epoch %d)", score.name,
                         patience, "" if patience == 1 else "s", progress.best_epoch)
                break
            start = time.time()
            cost = _train_epoch(model, X, Y, batch_size, epoch, n_epochs, passes)
            epoch += 1
            record = {"epoch": epoch, "cost": cost}
            if validation is not None:
                record["val_loss"], value = model._score(*validation, score, batch_size)
                record[f"val_{score.name}"] = value
            record["seconds"] = time.time() - start
            last_good = model._snapshot()
            if validation is not None and score.better(value, progress.best_score):
                progress.best_score, progress.best_epoch = value, epoch
                progress.best_weights = last_good["weights"]
            history.append(record)
            progress.epoch = epoch
            _log_epoch(model.verbose, record, n_epochs, progress, score)
            if checkpoint is not None:
                _write_checkpoint(model, checkpoint, progress, last_good)
            if snapshots is not None and (epoch - 1) % snapshots[1] == 0:
                model.save(f"{snapshots[0]}.{epoch - 1}")
    except KeyboardInterrupt:
        model._restore(last_good)
        log.warning("training interrupted during epoch %d; the model keeps the weights of %s", epoch + 1,
                    f"epoch {epoch}" if epoch else "before training")
    except _Diverged as diverged:
        model._restore(last_good)
        keep_best = restore_best and progress.best_weights is not None
        if keep_best:
            model.set_weights(progress.best_weights)
        kept = f"epoch {progress.best_epoch}'s (best)" if keep_best else f"epoch {epoch}'s" if epoch else "the initial"
        raise FloatingPointError(f"the training cost became {diverged.cost} at epoch {epoch + 1}, batch "
                                 f"{diverged.batch}; the model keeps {kept} weights. Lower the learning "
                                 "rate or clip gradients (e.g. Adam(clipnorm=5))") from None
    model.best_epoch = progress.best_epoch
    if restore_best and progress.best_weights is not None and progress.best_epoch != epoch:
        model.set_weights(progress.best_weights)
        if model.verbose:
            log.info("restored the weights of epoch %d (best %s %.4f)", progress.best_epoch, score.name,
                     progress.best_score)
    return history


def _train_epoch(model, X, Y, batch_size: int, epoch: int, n_epochs: int, passes: int = 1) -> float:
    """``passes`` passes over the data; the mean training cost per sequence. Each pass's new batch
    shapes compile on a background thread while it trains (:mod:`passage.ahead`)."""
    total, seen, batch = 0.0, 0, 0
    bar = tqdm(total=passes * len(X), desc=f"epoch {epoch + 1}/{n_epochs}", unit="seq", leave=False,
               disable=model.verbose < 2, dynamic_ncols=True)
    iterator = model._iterator(batch_size)
    function, _ = model._function("train")
    try:
        for _ in range(passes):
            plan = iterator.training_plan(X, model.rng)
            with model._compiles_ahead("train", iterator, X, Y, plan) as compiles:
                for indices, x, mask in iterator.batches(X, plan):
                    batch += 1
                    size = x.shape[1]
                    arguments = model._arguments("train", Y, indices, x, mask, model.rng)
                    compiles.ready(arguments)
                    cost = float(function(*arguments))
                    if not np.isfinite(cost):
                        raise _Diverged(cost, batch)
                    total += cost * size
                    seen += size
                    bar.update(size)
                    bar.set_postfix(cost=f"{total / seen:.4f}", refresh=False)
    finally:
        bar.close()
    return total / seen


def _log_epoch(verbose: int, record: dict, n_epochs: int, progress: Progress, score) -> None:
    if not verbose:
        return
    line = f"epoch {record['epoch']}/{n_epochs}  cost {record['cost']:.4f}"
    if score is not None:
        line += f"  val_{score.name} {record[f'val_{score.name}']:.4f}"
        if progress.best_epoch == record["epoch"]:
            line += " (best)"
    log.info("%s  %.1fs", line, record["seconds"])


def _write_checkpoint(model, path, progress: Progress, snapshot: dict) -> None:
    config = model.get_config()
    config["training"] = {"epoch": progress.epoch, "history": progress.history, "best_score": progress.best_score,
                          "best_epoch": progress.best_epoch, "rng": snapshot["rng"]}
    arrays = {**serialization.prefixed("layers", snapshot["weights"]), **serialization.prefixed("updater", snapshot["updater"])}
    if progress.best_weights is not None:
        arrays.update(serialization.prefixed("best", progress.best_weights))
    if progress.validation_indices is not None:
        arrays["validation_indices"] = np.asarray(progress.validation_indices)
    serialization.write(path, config, arrays)


def read_checkpoint(model, path) -> Progress:
    """Load a checkpoint into ``model`` (weights, optimizer, random state); returns its progress."""
    config, arrays = serialization.read(path)
    config = compat.upgraded(config)
    if "training" not in config:
        raise ValueError(f"{path} is a saved model, not a checkpoint; load it with passage.utils.load(path)")
    if config["model"]["layers"] != model.get_config()["model"]["layers"]:
        raise ValueError(f"{path} was written by a model with other layers; build the same layers to resume "
                         f"(the checkpoint has {[layer['class'] for layer in config['model']['layers']]})")
    training = config["training"]
    model._restore({"weights": serialization.unprefixed("layers", arrays),
                    "updater": serialization.unprefixed("updater", arrays), "rng": training["rng"]})
    if model.verbose:
        console_logging()
        log.info("resuming after epoch %d from %s", training["epoch"], path)
    return Progress(epoch=training["epoch"], history=training["history"], best_score=training["best_score"],
                    best_epoch=training["best_epoch"],
                    best_weights=serialization.unprefixed("best", arrays) or None,
                    validation_indices=arrays.get("validation_indices"))
