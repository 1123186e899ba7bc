"""The RNN model: a stack of layers, a cost and an updater; ``fit`` and ``predict`` on sequences.

``fit`` is the talk's workflow: score a validation set after every epoch, keep the earliest best
weights, stop early when it stops improving, write a checkpoint each epoch and resume from one.
Ctrl-C or a diverging cost never loses training: the model keeps its last good weights.
"""
from __future__ import annotations

import logging
import sys
import time
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from passage import backend, costs, metrics, serialization, updates
from passage import layers as layer_classes
from passage.iterators import SortedPadded
from passage.layers import DropoutMasks, Layer, check_stack

__all__ = ["RNN", "NotBuiltError"]

log = logging.getLogger("passage")


class NotBuiltError(RuntimeError):
    """The model's input size is not known yet (``n_features=None`` is learned by the first ``fit``)."""


def _console_logging() -> None:
    """Show the epoch lines on stderr when the program has not configured logging itself."""
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)


def _prefixed(prefix: str, arrays: dict) -> dict:
    """Arrays named '<prefix>/<name>', as a file stores them beside others."""
    return {f"{prefix}/{name}": value for name, value in arrays.items()}


def _unprefixed(prefix: str, arrays: dict) -> dict:
    """The arrays stored under '<prefix>/', by their own names."""
    return {name[len(prefix) + 1:]: value for name, value in arrays.items() if name.startswith(prefix + "/")}


class _Diverged(Exception):
    def __init__(self, cost: float, batch: int):
        self.cost, self.batch = cost, batch


class RNN:
    """A recurrent network for sequences.

    Parameters
    ----------
    layers : list of Layer
        Input layer first (Embedding, OneHot or Generic), then recurrent and Dense layers.
        ``Embedding(n_features=None)`` sizes its vocabulary from the first ``fit``'s data.
    cost : str or callable
        'bce' (sigmoid outputs, labels 0/1), 'cce' (softmax outputs; integer class labels or
        one-hot rows), 'mse' / 'mae' (regression), 'hinge' / 'squared_hinge' (labels -1/+1).
    updater : str or Update
        An optimizer from :mod:`passage.updates`, by name or instance.
    verbose : int
        0 silent, 1 one log line per epoch, 2 also a progress bar with running cost, speed and ETA.
    seed : int or None
        Seeds weight initialisation, shuffling, the validation split and dropout: the same seed
        gives the same weights.
    """

    def __init__(self, layers: Sequence[Layer], cost="bce", updater="Adam", verbose: int = 2,
                 seed: int | None = None):
        layers = list(layers)
        check_stack(layers)
        self.layers = layers
        self.cost = costs.get(cost)
        self.updater = updates.get(updater)
        self.verbose, self.seed = verbose, seed
        init_seed, data_seed = np.random.SeedSequence(seed).spawn(2)
        self._init_rng = np.random.default_rng(init_seed)
        self.rng = np.random.default_rng(data_seed)  # shuffling, validation split, dropout masks
        self.n_out = layers[-1].n_out
        self.params: list = []
        self.param_names: list[str] = []
        self.built = False
        self.tokenizer = None  # set by load() when the file holds one
        self.history: list[dict] = []
        self._functions: dict = {}
        if self._input_layer.input_size_known:
            self._build()

    def _build(self) -> None:
        n_in = None
        for layer in self.layers:
            if not layer.built:
                layer.build(n_in, self._init_rng)
            n_in = layer.n_out
        self.params = [p for layer in self.layers for p in layer.params]
        self.param_names = [f"{i}/{p.name}" for i, layer in enumerate(self.layers) for p in layer.params]
        self.built = True

    def _require_built(self) -> None:
        if not self.built:
            raise NotBuiltError(f"this model is not built yet: its {type(self._input_layer).__name__} was "
                                "given no input size, which fit() learns from the training data. Call fit() "
                                "first, or give the size, e.g. Embedding(n_features=tokenizer.n_features)")

    # ---- compiled functions -------------------------------------------------------------------

    @property
    def _input_layer(self) -> Layer:
        return self.layers[0]

    def _symbolic_inputs(self, length: int, batch: int):
        """Symbolic ids/features and mask; static shapes where the backend needs them."""
        shape = (length, batch) if backend.STATIC_SHAPES else (None, None)
        if self._input_layer.input_dtype == "int32":
            X = backend.tensor_input("X", "int32", shape)  # (T, B)
        else:
            X = backend.tensor_input("X", backend.floatX(), shape + (self._input_layer.size,))  # (T, B, F)
        mask = backend.tensor_input("mask", backend.floatX(), shape)  # (T, B)
        return X, mask

    def _forward(self, X, mask, train: bool, masks: DropoutMasks | None):
        h = X
        for layer in self.layers:
            h = layer.output(h, mask, train, masks)
        return h  # (B, n_out)

    def _function(self, kind: str, length: int, batch: int):
        """``(compiled function, its DropoutMasks)`` of kind 'train' or 'predict' for this batch shape,
        compiled on first use."""
        key = (kind, length, batch) if backend.STATIC_SHAPES else (kind,)
        if key not in self._functions:
            X, mask = self._symbolic_inputs(length, batch)
            if kind == "predict":
                self._functions[key] = (backend.function([X, mask], self._forward(X, mask, False, None)), None)
            else:
                masks = DropoutMasks()
                Y = backend.tensor_input("Y", backend.floatX(), (batch if backend.STATIC_SHAPES else None,
                                                                 self.n_out))
                cost = self.cost(Y, self._forward(X, mask, True, masks))
                steps = self.updater.get_updates(self.params, cost)
                self._functions[key] = (backend.function([X, mask, Y] + masks.inputs, cost, updates=steps), masks)
        return self._functions[key]

    def _loss(self, Y: np.ndarray, P: np.ndarray) -> float:
        """The model's cost of predictions ``P`` against targets ``Y``."""
        key = ("loss", len(Y)) if backend.STATIC_SHAPES else ("loss",)
        if key not in self._functions:
            shape = (key[1] if backend.STATIC_SHAPES else None, self.n_out)
            targets = backend.tensor_input("Y", backend.floatX(), shape)
            predictions = backend.tensor_input("P", backend.floatX(), shape)
            self._functions[key] = backend.function([targets, predictions], self.cost(targets, predictions))
        return float(self._functions[key](Y.astype(backend.floatX()), P.astype(backend.floatX())))

    # ---- data checks ----------------------------------------------------------------------------

    def _sequences(self, X, name: str = "X") -> list[np.ndarray]:
        """``X`` as a list of arrays: int ids, or (length, size) floats for a Generic input."""
        if hasattr(X, "tolist") and not isinstance(X, np.ndarray):  # pandas Series
            X = X.tolist()
        if isinstance(X, np.ndarray) and X.dtype != object and X.ndim == 1 and len(X):
            raise ValueError(f"{name} is one flat array; pass a list of sequences, e.g. [[1, 5, 2], [4, 3]]")
        X = list(X)
        if not X:
            raise ValueError(f"{name} is empty: pass at least one sequence")
        if any(isinstance(x, (str, bytes)) for x in X):
            raise ValueError(f"{name} holds raw text; turn it into id sequences first with "
                             "passage.preprocessing.Tokenizer().fit_transform(texts)")
        if self._input_layer.input_dtype != "int32":
            return self._feature_sequences(X, name)
        sequences = [np.asarray(x).reshape(-1) for x in X]
        ids = np.concatenate(sequences)
        if ids.size:
            if ids.dtype.kind == "f":
                if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)):
                    raise ValueError(f"{name} holds non-integer ids; ids must be whole numbers counted from 0")
            elif ids.dtype.kind not in "iub":
                raise ValueError(f"{name} must hold integer ids, got values of type {ids.dtype}")
            low, high = ids.min(), ids.max()
            if low < 0:
                raise ValueError(f"{name} holds negative ids (down to {low}); ids count from 0 (the padding id)")
            n_features = self._input_layer.n_features
            if n_features is not None and high >= n_features:
                raise ValueError(f"{name} holds ids from {low} to {high}, but the input layer has "
                                 f"n_features={n_features} (ids 0..{n_features - 1}); build it with "
                                 "n_features=tokenizer.n_features")
        return [x.astype(np.int32) for x in sequences]

    def _feature_sequences(self, X, name):
        arrays = [np.asarray(x, dtype=np.float32) for x in X]
        size = self._input_layer.size
        if size is None:  # Generic(size=None): the first non-empty sequence says
            size = next((x.reshape(len(x), -1).shape[1] for x in arrays if x.size), 1)
        sequences = [x.reshape(len(x), -1) if x.size else np.zeros((0, size), np.float32) for x in arrays]
        for i, x in enumerate(sequences):
            if x.shape[1] != size:
                raise ValueError(f"{name}[{i}] has {x.shape[1]} features per step; the Generic layer expects {size}")
            if not np.all(np.isfinite(x)):
                raise ValueError(f"{name}[{i}] holds NaN or infinite values; remove or fix them")
        return sequences

    def _targets(self, Y, n: int, name: str = "trY", x_name: str = "trX") -> np.ndarray:
        """``Y`` as a float (n, n_out) array; integer class labels are one-hot encoded for cce."""
        Y = np.asarray(Y.tolist() if hasattr(Y, "tolist") and not isinstance(Y, np.ndarray) else Y)
        if len(Y) != n:
            raise ValueError(f"{name} has {len(Y)} rows but {x_name} has {n} sequences; they must match")
        if Y.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be numeric, got values of type {Y.dtype}")
        if Y.dtype.kind == "f" and not np.all(np.isfinite(Y)):
            raise ValueError(f"{name} holds NaN or infinite values; remove or fix those rows")
        if self.cost is costs.cce and self.n_out > 1 and (Y.ndim == 1 or Y.shape[1:] == (1,)):
            labels = Y.reshape(-1)
            if np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= self.n_out:
                raise ValueError(f"class labels must be integers in [0, {self.n_out}) for a "
                                 f"{self.n_out}-unit softmax output, got {labels.min()}..{labels.max()}")
            Y = np.eye(self.n_out)[labels.astype(int)]
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.ndim != 2:
            raise ValueError(f"{name} has shape {Y.shape}; expected (n_samples, {self.n_out})")
        if Y.shape[1] != self.n_out:
            raise ValueError(f"{name} has {Y.shape[1]} columns but the last layer has {self.n_out} outputs; "
                             "make them match")
        if self.cost is costs.bce and (Y.min() < 0 or Y.max() > 1):
            raise ValueError(f"bce needs labels in [0, 1], got {Y.min()}..{Y.max()}; for {int(Y.max()) + 1} "
                             "classes use Dense(size=n_classes, activation='softmax') with cost='cce'")
        return Y.astype(backend.floatX())

    def _iterator(self, batch_size: int) -> SortedPadded:
        feature_size = None if self._input_layer.input_dtype == "int32" else self._input_layer.size
        return SortedPadded(size=batch_size, feature_size=feature_size)

    # ---- weights and state --------------------------------------------------------------------

    def get_weights(self) -> dict[str, np.ndarray]:
        """Copies of all parameters by name ('<layer position>/<parameter>', e.g. '1/U_zr')."""
        self._require_built()
        return {name: p.get_value() for name, p in zip(self.param_names, self.params)}

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Set parameters from :meth:`get_weights`' names; every name must be present, shapes must match."""
        self._require_built()
        missing, unknown = set(self.param_names) - set(weights), set(weights) - set(self.param_names)
        if missing or unknown:
            raise ValueError(f"weights do not fit this model: missing {sorted(missing)}, unknown {sorted(unknown)}")
        for i, layer in enumerate(self.layers):
            if layer.params:
                layer.set_weights([weights[f"{i}/{name}"] for name in layer.param_names])

    def _snapshot(self) -> dict:
        """Everything training changes: weights, optimizer state, the random generator."""
        return {"weights": self.get_weights(), "updater": self.updater.get_state(),
                "rng": self.rng.bit_generator.state}

    def _restore(self, snapshot: dict) -> None:
        self.set_weights(snapshot["weights"])
        self.updater.set_state(snapshot["updater"], self.params)
        self.rng.bit_generator.state = snapshot["rng"]

    def get_config(self, tokenizer=None) -> dict:
        """JSON-safe description of the model (and ``tokenizer``): what a saved file holds besides arrays."""
        self._require_built()
        return {"model": {"layers": [{"class": type(layer).__name__, "config": layer.get_config()}
                                     for layer in self.layers],
                          "cost": costs.name_of(self.cost),
                          "updater": {"class": type(self.updater).__name__, "config": self.updater.get_config()},
                          "seed": self.seed, "verbose": self.verbose},
                "tokenizer": None if tokenizer is None else tokenizer.get_config()}

    @classmethod
    def from_config(cls, config: dict, arrays: dict[str, np.ndarray], source: str = "the file") -> "RNN":
        """Rebuild a model from :meth:`get_config` and :meth:`get_weights` (see :func:`passage.load`)."""
        from passage.preprocessing import Tokenizer

        try:
            spec = config["model"]
            model = cls([layer_classes.get(layer["class"], layer["config"]) for layer in spec["layers"]],
                        cost=spec["cost"], updater=updates.from_config(spec["updater"]["class"],
                                                                       spec["updater"]["config"]),
                        verbose=spec.get("verbose", 2), seed=spec.get("seed"))
            model.set_weights(_unprefixed("layers", arrays))
            if config.get("tokenizer") is not None:
                model.tokenizer = Tokenizer.from_config(config["tokenizer"])
        except (KeyError, TypeError, ValueError) as error:
            raise serialization.ModelFileError(f"{source} does not describe a model this Passage can "
                                               f"build: {error!r}") from None
        return model

    def save(self, path, tokenizer=None) -> None:
        """Save to one file (see :func:`passage.serialization.save`); atomic, safe to load."""
        serialization.write(path, self.get_config(tokenizer), _prefixed("layers", self.get_weights()))

    # ---- training -------------------------------------------------------------------------------

    def _validation_set(self, X, Y, validation_data, validation_split: float, indices):
        """Split off or check the validation data: returns (X, Y, valX, valY, validation indices)."""
        if validation_data is not None:
            if validation_split:
                raise ValueError("give validation_data or validation_split, not both")
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (X, Y)")
            valX = self._sequences(validation_data[0], "validation X")
            return X, Y, valX, self._targets(validation_data[1], len(valX), "validation Y", "validation X"), None
        if not validation_split:
            return X, Y, None, None, None
        if not 0.0 < validation_split < 1.0:
            raise ValueError(f"validation_split is a fraction in (0, 1), got {validation_split}")
        if indices is None:
            n_validation = int(round(len(X) * validation_split))
            if not 0 < n_validation < len(X):
                raise ValueError(f"validation_split={validation_split} of {len(X)} sequences leaves no "
                                 "training or no validation data")
            indices = np.sort(self.rng.permutation(len(X))[:n_validation])
        held_out = np.zeros(len(X), bool)
        held_out[indices] = True
        train = np.flatnonzero(~held_out)
        return ([X[i] for i in train], Y[train], [X[i] for i in indices], Y[indices], indices)

    def fit(self, trX, trY, batch_size: int = 64, n_epochs: int = 1, validation_data=None,
            validation_split: float = 0.0, metric="loss", patience: int | None = None,
            restore_best: bool = True, checkpoint=None, resume=None) -> list[dict]:
        """Train for ``n_epochs`` passes over (trX, trY) in minibatches of ``batch_size``.

        With ``validation_data=(X, Y)`` or ``validation_split`` (a fraction held out at random), the
        ``metric`` ('loss', 'auc', 'accuracy' or ``score(y_true, y_pred)``, higher better) is measured
        after every epoch; ``restore_best`` leaves the model with the earliest best epoch's weights,
        ``patience`` stops after that many epochs without improvement. ``checkpoint=path`` writes
        weights, optimizer and random state after every epoch; ``resume=path`` continues from such a
        file (a model built with the same layers). Ctrl-C stops training and keeps the best (or last
        complete epoch's) weights.

        Returns the history, also kept in ``self.history``: one dict per epoch with the mean training
        ``cost``, ``seconds``, and ``val_loss`` plus ``val_<metric>`` when validating.
        """
        X = self._sequences(trX, "trX")
        Y = self._targets(trY, len(X))
        if not self.built:
            self._input_layer.fit_input(X)
            self._build()
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        run = {"epoch": 0, "history": [], "best_score": None, "best_epoch": None, "validation_indices": None}
        best_weights = None
        if resume is not None:
            run, best_weights = self._resume(resume)
        X, Y, valX, valY, run["validation_indices"] = self._validation_set(
            X, Y, validation_data, validation_split, run["validation_indices"])
        validating = valX is not None
        if (patience is not None or metric != "loss") and not validating:
            raise ValueError("patience and metric need validation data: pass validation_data=(X, Y) "
                             "or validation_split=0.1")
        score = metrics.get(metric, self.cost, self._loss) if validating else None
        if self.verbose:
            _console_logging()
        history = run["history"]
        self.history = history
        last_good = self._snapshot()
        epoch = run["epoch"]
        try:
            while epoch < n_epochs:
                if patience is not None and run["best_epoch"] is not None and epoch - run["best_epoch"] >= patience:
                    log.info("stopping early: no better %s for %d epochs (best: epoch %d)", score.name,
                             patience, run["best_epoch"])
                    break
                start = time.time()
                cost = self._train_epoch(X, Y, batch_size, epoch, n_epochs)
                epoch += 1
                record = {"epoch": epoch, "cost": cost}
                if validating:
                    P = self._predict_sequences(valX, batch_size)
                    record["val_loss"] = self._loss(valY, P)
                    value = score.score(valY, P)
                    record[f"val_{score.name}"] = value
                record["seconds"] = time.time() - start
                last_good = self._snapshot()
                if validating and score.better(value, run["best_score"]):
                    run["best_score"], run["best_epoch"], best_weights = value, epoch, last_good["weights"]
                history.append(record)
                run["epoch"] = epoch
                self._log_epoch(record, n_epochs, run, score)
                if checkpoint is not None:
                    self._write_checkpoint(checkpoint, run, last_good, best_weights)
        except KeyboardInterrupt:
            self._restore(last_good)
            log.warning("training interrupted during epoch %d; the model keeps the weights of %s", epoch + 1,
                        f"epoch {epoch}" if epoch else "before training")
        except _Diverged as diverged:
            self._restore(last_good)
            if restore_best and best_weights is not None:
                self.set_weights(best_weights)
            kept = f"epoch {run['best_epoch']}'s (best)" if restore_best and best_weights is not None else \
                f"epoch {epoch}'s" if epoch else "the initial"
            raise FloatingPointError(f"the training cost became {diverged.cost} at epoch {epoch + 1}, batch "
                                     f"{diverged.batch}; the model keeps {kept} weights. Lower the learning "
                                     "rate or clip gradients (e.g. Adam(clipnorm=5))") from None
        if restore_best and best_weights is not None and run["best_epoch"] != epoch:
            self.set_weights(best_weights)
            if self.verbose:
                log.info("restored the weights of epoch %d (best %s %.4f)", run["best_epoch"], score.name,
                         run["best_score"])
        return history

    def _train_epoch(self, X, Y, batch_size: int, epoch: int, n_epochs: int) -> float:
        """One pass over the data; the mean training cost."""
        total, seen = 0.0, 0
        bar = tqdm(total=len(X), desc=f"epoch {epoch + 1}/{n_epochs}", unit="seq", leave=False,
                   disable=self.verbose < 2, dynamic_ncols=True)
        try:
            for batch, (x, mask, y) in enumerate(self._iterator(batch_size).train(X, Y, self.rng), start=1):
                length, size = x.shape[:2]
                function, masks = self._function("train", length, size)
                cost = float(function(x, mask, y, *masks.draw(self.rng, length, size)))
                if not np.isfinite(cost):
                    raise _Diverged(cost, batch)
                total += cost * len(y)
                seen += len(y)
                bar.update(len(y))
                bar.set_postfix(cost=f"{total / seen:.4f}", refresh=False)
        finally:
            bar.close()
        return total / seen

    def _log_epoch(self, record: dict, n_epochs: int, run: dict, score) -> None:
        if not self.verbose:
            return
        line = f"epoch {record['epoch']}/{n_epochs}  cost {record['cost']:.4f}"
        if score is not None:
            line += f"  val_{score.name} {record[f'val_{score.name}']:.4f}"
            if run["best_epoch"] == record["epoch"]:
                line += " (best)"
        log.info("%s  %.1fs", line, record["seconds"])

    # ---- checkpoints ----------------------------------------------------------------------------

    def _write_checkpoint(self, path, run: dict, snapshot: dict, best_weights) -> None:
        config = self.get_config()
        indices = run["validation_indices"]
        config["training"] = {"epoch": run["epoch"], "history": run["history"], "best_score": run["best_score"],
                              "best_epoch": run["best_epoch"], "rng": snapshot["rng"]}
        arrays = {**_prefixed("layers", snapshot["weights"]), **_prefixed("updater", snapshot["updater"])}
        if best_weights is not None:
            arrays.update(_prefixed("best", best_weights))
        if indices is not None:
            arrays["validation_indices"] = np.asarray(indices)
        serialization.write(path, config, arrays)

    def _resume(self, path) -> tuple[dict, dict | None]:
        """Load a checkpoint into this model; returns the training progress and best weights."""
        config, arrays = serialization.read(path)
        if "training" not in config:
            raise ValueError(f"{path} is a saved model, not a checkpoint; load it with passage.utils.load(path)")
        if config["model"]["layers"] != self.get_config()["model"]["layers"]:
            raise ValueError(f"{path} was written by a model with other layers; build the same layers to resume "
                             f"(the checkpoint has {[layer['class'] for layer in config['model']['layers']]})")
        training = config["training"]
        self._restore({"weights": _unprefixed("layers", arrays), "updater": _unprefixed("updater", arrays),
                       "rng": training["rng"]})
        best = _unprefixed("best", arrays) or None
        run = {"epoch": training["epoch"], "history": training["history"], "best_score": training["best_score"],
               "best_epoch": training["best_epoch"], "validation_indices": arrays.get("validation_indices")}
        if self.verbose:
            _console_logging()
            log.info("resuming after epoch %d from %s", run["epoch"], path)
        return run, best

    # ---- prediction -----------------------------------------------------------------------------

    def _predict_sequences(self, sequences, batch_size: int) -> np.ndarray:
        outputs = np.zeros((len(sequences), self.n_out), dtype=backend.floatX())
        for indices, x, mask in self._iterator(batch_size).predict(sequences):
            function, _ = self._function("predict", x.shape[0], x.shape[1])
            outputs[indices] = np.asarray(function(x, mask))
        return outputs

    def predict(self, X, batch_size: int = 64) -> np.ndarray:
        """Outputs of the last layer, one row per sequence of ``X``, in the input order."""
        self._require_built()
        return self._predict_sequences(self._sequences(X), batch_size)

    def evaluate(self, X, Y, metric="loss", batch_size: int = 64) -> float:
        """``metric`` ('loss', 'auc', 'accuracy' or ``score(y_true, y_pred)``) of the predictions for ``X``."""
        self._require_built()
        sequences = self._sequences(X)
        targets = self._targets(Y, len(sequences), "Y", "X")
        return metrics.get(metric, self.cost, self._loss).score(targets, self._predict_sequences(sequences, batch_size))
