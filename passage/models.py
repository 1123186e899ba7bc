"""The RNN model: a stack of layers, a cost and an updater; ``fit``, ``predict`` and ``evaluate``.

``RNN`` builds the layers, compiles one function per kind ('train', 'predict'),
and is the front door of training (the loop lives in :mod:`passage.training`). Whether it outputs
one row per sequence or per token is its :attr:`RNN.output` (:mod:`passage.outputs`).
:func:`save` and :func:`load` keep a model (and its tokenizer) in one safe file.
"""
from __future__ import annotations

import functools
import os
from typing import Sequence

import numpy as np

from passage import ahead, backend, compat, costs, data, metrics, outputs, sampling, serialization, training, updates
from passage import iterators
from passage import layers as layer_classes
from passage.layers import DropoutMasks, Layer, check_stack

__all__ = ["RNN", "NotBuiltError", "save", "load"]


class NotBuiltError(RuntimeError):
    """The model's input size is not known yet (``n_features=None`` is learned by the first ``fit``)."""


class RNN:
    """A recurrent network for sequences.

    Parameters
    ----------
    layers : list of Layer
        Input layer first (Embedding, OneHot or Generic), then recurrent, Bidirectional and Dense
        layers. ``Embedding(n_features=None)`` sizes its vocabulary from the first ``fit``'s data.
        When the last recurrent layer has ``seq_output=True`` the model is *per token*: the Dense
        layers after it apply at every step, labels are one per token and ``predict`` returns one
        array per sequence (see :mod:`passage.outputs`).
    cost : str or callable
        'bce' (sigmoid outputs, labels 0/1), 'cce' (softmax outputs; integer class labels or
        one-hot rows), 'mse' / 'mae' (regression), 'hinge' / 'squared_hinge' (labels -1/+1).
    updater : str or Update
        An optimizer from :mod:`passage.updates`, by name or instance.
    verbose : int
        0 silent, 1 one log line per epoch, 2 also a progress bar with running cost, speed and ETA.
    Y : ignored
        The 2015 library's symbolic target variable; the labels' shape now comes from the data.
    iterator : str or Iterator
        How training batches are formed (:mod:`passage.iterators`): 'SortedPadded' (similar lengths
        together, the default), 'Padded' (the data's order) or 'Linear' (equal-length real-valued
        sequences); an instance also sets the default batch size and shuffling.
    seed : int or None
        Seeds weight initialisation, shuffling, the validation split and dropout: the same seed
        gives the same weights.
    """

    def __init__(self, layers: Sequence[Layer], cost="bce", updater="Adam", verbose: int = 2, Y=None,
                 iterator="SortedPadded", seed: int | None = None):
        layers = list(layers)
        per_token = check_stack(layers)
        self.layers = layers
        self.cost = costs.get(cost)
        self.updater = updates.get(updater)
        self.iterator = iterators.get(iterator)
        if Y is not None:
            compat.deprecated("RNN(Y=...)", "no Y: the labels' shape is read from the data")
        self.verbose, self.seed = verbose, seed
        init_seed, data_seed = np.random.SeedSequence(seed).spawn(2)
        self._init_rng = np.random.default_rng(init_seed)
        self.rng = np.random.default_rng(data_seed)  # shuffling, validation split, dropout masks
        self.n_out = layers[-1].n_out
        self.output = outputs.for_model(per_token, self.n_out, self.cost)
        self.params: list = []
        self.param_names: list[str] = []
        self.built = False
        self.tokenizer = None  # set by load() when the file holds one
        self.history: list[dict] = []
        self.best_epoch: int | None = None  # the last fit's best validation epoch (None: not validated)
        self._functions: dict = {}
        self._shapes_ahead: dict[str, set] = {}  # kind -> batch shapes handed to passage.ahead
        if self._input_layer.input_size_known:
            self._build()

    @property
    def _input_layer(self) -> Layer:
        return self.layers[0]

    def _build(self) -> None:
        n_in, below = None, None
        for layer in self.layers:
            if not layer.built:
                if below is not None:
                    layer.connect(below)
                layer.build(n_in, self._init_rng)
            n_in, below = layer.n_out, layer
        self.params = [p for layer in self.layers for p in layer.params]
        self.param_names = [f"{i}/{name}" for i, layer in enumerate(self.layers) for name in layer.param_names]
        self.built = True

    def _require_built(self) -> None:
        if not self.built:
            raise NotBuiltError(f"this model is not built yet: its {type(self._input_layer).__name__} was "
                                "given no input size, which fit() learns from the training data. Call fit() "
                                "first, or give the size, e.g. Embedding(n_features=tokenizer.n_features)")

    # ---- compiled functions -------------------------------------------------------------------

    def _symbolic_inputs(self):
        """Symbolic ids/features and mask, their time and batch axes symbolic."""
        if self._input_layer.input_dtype == "int32":
            X = backend.tensor_input("X", "int32", (None, None))  # (T, B)
        else:
            X = backend.tensor_input("X", backend.floatX(), (None, None, self._input_layer.input_size))  # (T, B, F)
        mask = backend.tensor_input("mask", backend.floatX(), (None, None))  # (T, B)
        return X, mask

    def _forward(self, X, mask, train: bool, masks: DropoutMasks | None, first: int = 0):
        """The outputs of the layers from ``first`` on, given ``X``, the input of layer ``first``."""
        h = X
        for layer in self.layers[first:]:
            h = layer.output(h, mask, train, masks)
        return h  # (B, n_out) per sequence, (T, B, n_out) per token

    def _training_cost(self, X, mask, Y, masks: DropoutMasks):
        """``(the batch's cost, what the optimizer lowers)``: the same but for adversarial training
        (``Embedding(adversarial=...)``), where the second adds the cost of the batch read again
        with every sequence's vectors pushed along the first cost's gradient."""
        vectors = self._input_layer.output(X, mask, True, masks)  # (T, B, size), zero at padding
        cost = self.output.batch_cost(Y, self._forward(vectors, mask, True, masks, first=1), mask)
        if not getattr(self._input_layer, "adversarial", 0.0):
            return cost, cost
        pushed = self._input_layer.pushed(vectors, backend.grad(cost, vectors), mask)
        return cost, cost + self.output.batch_cost(Y, self._forward(pushed, mask, True, masks, first=1), mask)

    def _function(self, kind: str):
        """``(compiled function, its DropoutMasks)`` of ``kind``: 'predict' (outputs), 'loss' (the
        summed cost and how many rows it counts) or 'train' (one optimizer step; returns the cost).
        PyTensor compiles each kind once, on first use, for batches of any shape (JAX lowers it once
        per shape on its own)."""
        if kind not in self._functions:
            X, mask = self._symbolic_inputs()
            time_major = [1, 1]  # X and mask: (T, B, ...)
            if kind == "predict":
                self._functions[kind] = (backend.function([X, mask], self._forward(X, mask, False, None),
                                                          batch_axes=time_major), None)
            elif kind == "loss":
                Y = self.output.target_input()
                total = self.output.batch_loss(Y, self._forward(X, mask, False, None), mask)
                self._functions[kind] = (backend.function([X, mask, Y], list(total),
                                                          batch_axes=time_major + [self.output.batch_axis]), None)
            else:
                masks = DropoutMasks()
                Y = self.output.target_input()
                cost, lowered = self._training_cost(X, mask, Y, masks)
                steps = self.updater.get_updates(self.params, lowered)
                batch_axes = time_major + [self.output.batch_axis] + masks.batch_axes
                self._functions[kind] = (backend.function([X, mask, Y] + masks.inputs, cost, updates=steps,
                                                          batch_axes=batch_axes), masks)
        return self._functions[kind]

    def _loss(self, Y: np.ndarray, P: np.ndarray) -> float:
        """The model's cost of prediction rows ``P`` against target rows (or class ids) ``Y``."""
        key = ("rows loss", Y.ndim, Y.dtype.str)
        if key not in self._functions:
            targets = backend.tensor_input("Y", Y.dtype.name, (None,) * Y.ndim)
            predictions = backend.tensor_input("P", backend.floatX(), (None, None))
            self._functions[key] = backend.function([targets, predictions], self.cost(targets, predictions))
        return float(self._functions[key](Y, P.astype(backend.floatX())))

    def _iterator(self, batch_size: int | None) -> iterators.Iterator:
        """The model's iterator for batches of ``batch_size`` (None: the iterator's own size)."""
        feature_size = None if self._input_layer.input_dtype == "int32" else self._input_layer.input_size
        return self.iterator.resized(self.iterator.size if batch_size is None else batch_size, feature_size)

    # ---- weights and state --------------------------------------------------------------------

    def get_weights(self) -> dict[str, np.ndarray]:
        """Copies of all parameters by name ('<layer position>/<parameter>', e.g. '1/U_zr')."""
        self._require_built()
        return {name: backend.value(p) for name, p in zip(self.param_names, self.params)}

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
                          "iterator": {"class": type(self.iterator).__name__, "size": self.iterator.size,
                                       "shuffle": self.iterator.shuffle},
                          "seed": self.seed, "verbose": self.verbose},
                "tokenizer": None if tokenizer is None else tokenizer.get_config()}

    @classmethod
    def from_config(cls, config: dict, arrays: dict[str, np.ndarray], source: str = "the file") -> "RNN":
        """Rebuild a model from :meth:`get_config` and :meth:`get_weights`' arrays. Every parameter's
        declared shape is checked against the stored arrays before anything is allocated, so a
        corrupt or hostile file raises :class:`passage.serialization.ModelFileError`."""
        from passage.preprocessing import Tokenizer

        try:
            config = compat.upgraded(config)
            spec = config["model"]
            layers = [layer_classes.get(layer["class"], layer["config"]) for layer in spec["layers"]]
            weights = serialization.unprefixed("layers", arrays)
            declared, n_in = {}, None
            for i, layer in enumerate(layers):
                declared.update({f"{i}/{p.name}": p.shape for p in layer.param_specs(n_in)})
                n_in = layer.n_out
            serialization.check_shapes(declared, weights, source)
            for i, layer in enumerate(layers):  # built from the stored values: no initialiser runs
                layer._initial_weights = serialization.unprefixed(str(i), weights) or None
            iterator = spec.get("iterator", {"class": "SortedPadded"})
            iterator = iterators.REGISTRY.get(iterator["class"])(size=iterator.get("size", 64),
                                                                   shuffle=iterator.get("shuffle", True))
            model = cls(layers, cost=spec["cost"], updater=updates.from_config(spec["updater"]["class"],
                                                                               spec["updater"]["config"]),
                        verbose=spec.get("verbose", 2), iterator=iterator, seed=spec.get("seed"))
            if config.get("tokenizer") is not None:
                model.tokenizer = Tokenizer.from_config(config["tokenizer"])
        except serialization.ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
            raise serialization.ModelFileError(f"{source} does not describe a model this Passage can "
                                               f"build: {error!r}") from None
        return model

    def save(self, path, tokenizer=None) -> None:
        """Save to one file (see :func:`save`); atomic, safe to load."""
        serialization.write(path, self.get_config(tokenizer), serialization.prefixed("layers", self.get_weights()))

    # ---- training -------------------------------------------------------------------------------

    def fit(self, trX, trY, batch_size: int | None = None, n_epochs: int = 1, len_filter=None,
            snapshot_freq: int = 1, path=None, *, validation_data=None, validation_split: float = 0.0,
            metric="loss", patience: int | None = None, restore_best: bool = True, checkpoint=None,
            resume=None, epoch_size: int | None = None) -> list[dict]:
        """Train for ``n_epochs`` passes over (trX, trY) (more per epoch on small data with
        ``epoch_size``) in minibatches of ``batch_size`` (default: the iterator's size, 64).

        ``trY`` holds one label (row) per sequence, or for a per-token model one label sequence per
        input sequence, as long as it. With ``validation_data=(X, Y)`` or ``validation_split`` (a
        fraction held out at random), the ``metric`` ('loss', 'auc', 'accuracy' or
        ``score(y_true, y_pred)``, higher better; per-token models score real tokens) is measured
        after every epoch; ``restore_best`` leaves the model with the earliest best epoch's weights,
        ``patience`` stops after that many epochs without improvement. ``checkpoint=path`` writes
        weights, optimizer and random state after every epoch; ``resume=path`` continues from such a
        file (a model built with the same layers). Ctrl-C stops training and keeps the best (or last
        complete epoch's) weights.

        ``epoch_size`` (None: an epoch is one pass over the training data) makes each epoch pass over
        the data, reshuffled, as many whole times as it takes to see at least that many sequences:
        on a small data set validation and early stopping then come after enough updates to mean
        something (``epoch_size=5000`` with 2,000 sequences: three passes per epoch).

        The 2015 arguments: ``len_filter`` (a :class:`passage.preprocessing.LenFilter`) drops training
        sequences longer than its limit first; with ``path``, the model is saved to ``path.<epoch>``
        (epochs counted from 0) after every ``snapshot_freq``-th epoch, in the safe file format.

        Returns the history, also kept in ``self.history``: one dict per epoch with the mean training
        ``cost``, ``seconds``, and ``val_loss`` plus ``val_<metric>`` when validating; the best
        validation epoch (counted from 1) is ``self.best_epoch`` (None without validation).
        """
        X = data.sequences(trX, self._input_layer, "trX")
        Y = self.output.targets(trY, X)
        if len_filter is not None:
            kept = len_filter.kept(X)
            X, Y = [X[i] for i in kept], self.output.subset(Y, kept)
        if path is not None and (not isinstance(snapshot_freq, int) or snapshot_freq < 1):
            raise ValueError(f"snapshot_freq is a number of epochs >= 1, got {snapshot_freq!r}")
        if epoch_size is not None and (isinstance(epoch_size, bool) or not isinstance(epoch_size, (int, np.integer))
                                       or epoch_size < 1):
            raise ValueError(f"epoch_size is a number of sequences >= 1 (or None: one pass), got {epoch_size!r}")
        if not self.built:
            self._input_layer.fit_input(X)
            self._build()
        iterator = self._iterator(batch_size)
        progress = training.read_checkpoint(self, resume) if resume is not None else training.Progress()
        validation = None
        if validation_data is not None:
            if validation_split:
                raise ValueError("give validation_data or validation_split, not both")
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (X, Y)")
            valX = data.sequences(validation_data[0], self._input_layer, "validation X")
            validation = (valX, self.output.targets(validation_data[1], valX, "validation Y", "validation X"))
        elif validation_split:
            X, Y, valX, valY, progress.validation_indices = training.split_validation(
                self, X, Y, validation_split, progress.validation_indices)
            validation = (valX, valY)
        if (patience is not None or metric != "loss") and validation is None:
            raise ValueError("patience and metric need validation data: pass validation_data=(X, Y) "
                             "or validation_split=0.1")
        score = metrics.get(metric, self.cost) if validation is not None else None
        if self.verbose:
            training.console_logging()
        snapshots = None if path is None else (os.fspath(path), snapshot_freq)
        passes = training.passes_per_epoch(epoch_size, len(X))
        return training.train(self, X, Y, validation, score, n_epochs, iterator.size, patience, restore_best,
                              checkpoint, progress, snapshots, passes)

    # ---- prediction -----------------------------------------------------------------------------

    def _predict_sequences(self, sequences, batch_size: int | None):
        iterator = self._iterator(batch_size)
        plan = iterator.prediction_plan(sequences)
        rows = iterator.prediction_rows(plan)  # the last batch fills up with empty rows: no shape of its own

        def batches():
            if not plan:
                return
            function, _ = self._function("predict")
            with self._compiles_ahead("predict", iterator, sequences, None, plan, rows) as compiles:
                for indices, x, mask in iterator.batches(sequences, plan, rows):
                    arguments = self._arguments("predict", None, indices, x, mask)
                    compiles.ready(arguments)
                    yield indices, np.asarray(function(*arguments)), mask
        return self.output.collect(len(sequences), batches())

    def _streamed_loss(self, X, Y, batch_size: int | None) -> float:
        """The mean cost of the checked sequences ``X`` against labels ``Y``, batch by batch: for a
        language model no vocabulary-sized predictions are ever kept."""
        total, count = 0.0, 0.0
        iterator = self._iterator(batch_size)
        plan = iterator.prediction_plan(X)
        function, _ = self._function("loss")
        with self._compiles_ahead("loss", iterator, X, Y, plan) as compiles:
            for indices, x, mask in iterator.batches(X, plan):
                arguments = self._arguments("loss", Y, indices, x, mask)
                compiles.ready(arguments)
                batch_total, batch_count = function(*arguments)
                total, count = total + float(batch_total), count + float(batch_count)
        return total / max(count, 1.0)

    def _arguments(self, kind: str, Y, indices, x, mask, rng: np.random.Generator | None = None) -> list:
        """The inputs of the ``kind`` function for one batch: ``x`` and ``mask``, then the labels of
        ``Y`` at ``indices`` ('loss', 'train'), then dropout masks drawn from ``rng`` ('train')."""
        if kind == "predict":
            return [x, mask]
        arguments = [x, mask, self.output.batch_targets(Y, indices, x.shape[0])]
        if kind == "train":
            arguments += self._function(kind)[1].draw(rng, *x.shape[:2])
        return arguments

    def _compiles_ahead(self, kind: str, iterator: iterators.Iterator, X, Y, plan,
                        rows: int | None = None) -> ahead.Ahead:
        """The background compiles of the new batch shapes of a pass of ``kind`` over ``plan``, the
        iterator's plan of ``X``, its batches padded to ``rows`` (:mod:`passage.ahead`)."""
        rng = np.random.default_rng(0)  # the dropout masks' values do not matter here, only their shapes

        def arguments(indices, length):
            _, x, mask = next(iterator.batches(X, [(indices, length)], rows))
            return self._arguments(kind, Y, indices, x, mask, rng)
        return ahead.Ahead(self._function(kind)[0],
                           (((length, max(len(indices), rows or 0)), functools.partial(arguments, indices, length))
                            for indices, length in plan), self._shapes_ahead.setdefault(kind, set()))

    def _score(self, X, Y, score, batch_size: int) -> tuple[float, float]:
        """(loss, ``score``) for the checked sequences ``X`` against labels ``Y``. Loss-based metrics
        are streamed; the others score the predictions, whose loss then comes from the same rows."""
        if score.from_loss is not None:
            loss = self._streamed_loss(X, Y, batch_size)
            return loss, score.from_loss(loss)
        rows = self.output.rows(Y, self._predict_sequences(X, batch_size))
        return self._loss(*rows), score.score(*rows)

    def predict(self, X, batch_size: int | None = None):
        """Outputs of the last layer in the input order: an array ``(n, n_out)``, one row per sequence;
        for a per-token model a list of ``(len(x), n_out)`` arrays, one per sequence."""
        self._require_built()
        return self._predict_sequences(data.sequences(X, self._input_layer), batch_size)

    def sample(self, prefix, n: int, temperature: float = 1.0, seed: int | None = None,
               top_k: int | None = None):
        """Generate from a language model: ``prefix`` (a list of ids, or a list of such lists) followed
        by ``n`` ids, each drawn from the model's next-id probabilities at ``temperature`` (0: the
        most likely id; the same ``seed`` gives the same sample), among the ``top_k`` most likely if
        given. Text comes back with ``tokenizer.inverse_transform([ids])``. See :mod:`passage.sampling`."""
        return sampling.sample(self, prefix, n, temperature, seed, top_k)

    def copy_weights_from(self, source: "RNN", layers) -> list[str]:
        """Start some layers from another model's weights, e.g. a classifier's Embedding and GRU from a
        language model's: ``layers=[0, 1]`` copies ``source``'s layers 0 and 1 into the same positions
        here, ``{1: 2}`` copies its layer 1 into layer 2. Each pair must be the same layer class with
        the same parameter shapes. Returns the names of the parameters copied."""
        self._require_built()
        source._require_built()
        pairs = dict(layers) if isinstance(layers, dict) else {i: i for i in layers}
        checked = []  # every pair is checked before any weight is copied
        for from_position, to_position in pairs.items():
            if not (0 <= from_position < len(source.layers) and 0 <= to_position < len(self.layers)):
                raise ValueError(f"layer positions {from_position} -> {to_position} are outside the models "
                                 f"({len(source.layers)} and {len(self.layers)} layers)")
            giver, taker = source.layers[from_position], self.layers[to_position]
            if type(giver) is not type(taker):
                raise ValueError(f"layer {from_position} of the source is a {type(giver).__name__}, but layer "
                                 f"{to_position} here is a {type(taker).__name__}")
            weights = dict(zip(giver.param_names, giver.get_weights()))
            shapes = {name: p.get_value(borrow=True).shape for name, p in zip(taker.param_names, taker.params)}
            for name, value in weights.items():
                if shapes.get(name) != value.shape:
                    raise ValueError(f"{type(taker).__name__} {name} has shape {shapes.get(name)} here but "
                                     f"{value.shape} in the source (layer {from_position} -> {to_position}); "
                                     "build both with the same sizes and the same tokenizer")
            checked.append((to_position, taker, weights))
        for to_position, taker, weights in checked:
            taker.set_weights(weights)
        return [f"{to_position}/{name}" for to_position, _, weights in checked for name in weights]

    def evaluate(self, X, Y, metric="loss", batch_size: int | None = None) -> float:
        """``metric`` ('loss', 'auc', 'accuracy', 'perplexity', 'bits' or ``score(y_true, y_pred)``) of
        the predictions for ``X``; per-token models are scored on real tokens only."""
        self._require_built()
        sequences = data.sequences(X, self._input_layer)
        targets = self.output.targets(Y, sequences, "Y", "X")
        score = metrics.get(metric, self.cost)
        if score.from_loss is not None:
            return score.from_loss(self._streamed_loss(sequences, targets, batch_size))
        return score.score(*self.output.rows(targets, self._predict_sequences(sequences, batch_size)))


def save(model: RNN, path, tokenizer=None) -> None:
    """Save ``model`` (and the ``tokenizer`` that made its input, if given) to one file at ``path``:
    a zip of JSON and ``.npy`` arrays, written atomically, never a pickle."""
    model.save(path, tokenizer=tokenizer)


def load(path):
    """The model saved at ``path`` (a model file or a checkpoint); ``model.tokenizer`` holds the saved
    tokenizer, or None. A file written by a :mod:`passage.sklearn` estimator's ``save`` gives back
    that fitted estimator."""
    config, arrays = serialization.read(path)
    model = RNN.from_config(config, arrays, source=os.fspath(path))
    if "estimator" in config:
        from passage.sklearn import ESTIMATORS  # scikit-learn is only needed for its files

        name = config["estimator"].get("class")
        if name not in ESTIMATORS:
            raise serialization.ModelFileError(f"{os.fspath(path)} names an unknown estimator {name!r}")
        try:
            return ESTIMATORS[name]._from_file(config, model)
        except (KeyError, TypeError, ValueError) as error:
            raise serialization.ModelFileError(f"{os.fspath(path)} holds a {name} this Passage cannot rebuild: "
                                               f"{error!r}") from None
    return model
