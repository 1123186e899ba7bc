"""scikit-learn estimators: text in, predictions out. ``RNNClassifier`` and ``RNNRegressor``.

    from passage.sklearn import RNNClassifier
    clf = RNNClassifier().fit(texts, labels)          # builds the Tokenizer and the network inside
    clf.predict(new_texts), clf.predict_proba(new_texts), clf.score(test_texts, test_labels)

Every setting is a constructor parameter kept under its own name, so ``clone``, ``get_params`` /
``set_params``, ``Pipeline``, ``GridSearchCV`` and ``cross_val_score`` work as with any estimator.
The network is ``Embedding -> recurrent layer (optionally Bidirectional) -> Dense``; training holds
out ``validation_split`` of the data, scores it after every epoch, stops after ``patience`` epochs
without improvement and keeps the best epoch's weights.

``clf.save(path)`` writes the fitted estimator to Passage's safe file format and
``passage.utils.load(path)`` gives it back. Pickling works as scikit-learn users expect
(``pickle``, ``joblib``); like every pickle, never unpickle a file you do not trust.

scikit-learn's ``check_estimator`` cannot run on a text estimator: its checks feed 2-D numeric
arrays, which ``__sklearn_tags__`` declares this estimator does not take (``two_d_array=False``,
``string=True``), so scikit-learn skips them all. The checks that need no data run in our tests
(``check_parameters_default_constructible``, ``check_no_attributes_set_in_init``,
``check_get_params_invariance``, ``check_set_params``, ``check_estimator_repr``,
``check_estimator_cloneable``, ``check_estimators_overwrite_params`` in spirit), and the ones that
fit are re-done there on text: ``fit`` returns ``self`` and leaves parameters alone, unfitted
estimators raise ``NotFittedError``, predictions do not depend on sample order or on which other
samples share the call, labels of any type, and pickling round-trips.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from passage import serialization
from passage.layers import (Bidirectional, Dense, Embedding, GatedRecurrent, LstmRecurrent, Pooling,
                            SimpleRecurrent)
from passage.models import RNN
from passage.preprocessing import Tokenizer
from passage.updates import get as get_updater
from passage.vectors import gather as gather_vectors

__all__ = ["RNNClassifier", "RNNRegressor", "load_estimator"]

CELLS = {"gru": GatedRecurrent, "lstm": LstmRecurrent, "simple": SimpleRecurrent}
TOKENIZERS = ("words", "characters", None)
MIN_VALIDATION = 20  # held-out documents needed before validation_split is used


class _RNNEstimator(BaseEstimator):
    """What the classifier and the regressor share: texts to ids, the network, training, files."""

    def __init__(self, tokenizer="words", min_df=2, max_features=50000, max_len=1000, lowercase=True,
                 embedding_size=128, hidden_size=128, cell="gru", bidirectional=False, pooling="last,max,mean", p_drop=0.5,
                 updater="adam", lr=0.002, batch_size=64, epochs=6, validation_split=0.1, patience=2,
                 random_state=None, verbose=0, vectors=None, word_drop=0.0, epoch_size=5000, adversarial=0.05,
                 refit=False):
        self.tokenizer, self.min_df, self.max_features, self.max_len = tokenizer, min_df, max_features, max_len
        self.lowercase, self.embedding_size, self.hidden_size, self.cell = lowercase, embedding_size, hidden_size, cell
        self.bidirectional, self.pooling, self.p_drop, self.updater, self.lr = bidirectional, pooling, p_drop, updater, lr
        self.batch_size, self.epochs, self.validation_split = batch_size, epochs, validation_split
        self.patience, self.random_state, self.verbose, self.vectors = patience, random_state, verbose, vectors
        self.word_drop, self.epoch_size, self.adversarial, self.refit = word_drop, epoch_size, adversarial, refit

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = self.tokenizer is not None
        tags.non_deterministic = self.random_state is None
        return tags

    # ---- inputs --------------------------------------------------------------------------------

    def _documents(self, X, name="X") -> list:
        """``X`` as a list of texts (or of id sequences with ``tokenizer=None``)."""
        if isinstance(X, (str, bytes)):
            raise ValueError(f"{name} must be a list of texts, got one string; wrap it: [text]")
        if hasattr(X, "ndim") and X.ndim == 2 and X.shape[1] == 1 and self.tokenizer is not None:
            X = np.asarray(X)[:, 0]  # a one-column DataFrame or array of texts
        documents = list(X.tolist() if hasattr(X, "tolist") else X)
        if not documents:
            raise ValueError(f"{name} is empty: it must hold at least one document")
        if self.tokenizer is not None:
            for i, text in enumerate(documents):
                if not isinstance(text, str):
                    raise TypeError(f"{name}[{i}] is a {type(text).__name__}, not a text; give strings, or "
                                    "id sequences with tokenizer=None")
        return documents

    def _ids(self, X, name="X") -> list:
        documents = self._documents(X, name)
        return documents if self.tokenizer_ is None else self.tokenizer_.transform(documents)

    # ---- training ------------------------------------------------------------------------------

    def _check_params(self) -> None:
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"tokenizer must be one of {TOKENIZERS}, got {self.tokenizer!r}")
        if str(self.cell).lower() not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {self.cell!r}")
        if not isinstance(self.updater, str):
            raise ValueError(f"updater is a name ('adam', 'adadelta', 'rmsprop', ...), got {self.updater!r}; "
                             "its learning rate is lr")
        if not 0.0 <= self.validation_split < 1.0:
            raise ValueError(f"validation_split is a fraction in [0, 1), got {self.validation_split}")

    def _seed(self):
        if self.random_state is None or isinstance(self.random_state, (int, np.integer)):
            return self.random_state
        return int(self.random_state.randint(2 ** 31 - 1))  # a RandomState instance, as scikit-learn allows

    def _vector_rows(self, seed) -> np.ndarray | None:
        """The Embedding's starting rows from ``vectors`` for this vocabulary (None without vectors),
        read once per fit: a refit starts from the same rows."""
        if self.vectors is None:
            return None
        if self.tokenizer_ is None:
            raise ValueError("vectors need the words behind the ids: use a tokenizer, not tokenizer=None")
        rows, self.vector_coverage_ = gather_vectors(self.vectors).embedding_weights(self.tokenizer_, seed=seed or 0)
        return rows

    def _network(self, n_out: int, activation: str, vector_rows) -> list:
        """Embedding (from ``vector_rows`` when given) -> recurrent layer (both ways, when asked) ->
        Pooling (when asked) -> Dense."""
        pool = [m for m in self.pooling.split(",") if m] if isinstance(self.pooling, str) else list(self.pooling or ())
        recurrent = CELLS[str(self.cell).lower()](size=self.hidden_size, p_drop=self.p_drop, seq_output=bool(pool))
        n_features = None if self.tokenizer_ is None else self.tokenizer_.n_features
        noise = {"p_drop": self.word_drop, "adversarial": self.adversarial}  # the Embedding's, while training
        embedding = Embedding(size=self.embedding_size, n_features=n_features, **noise)
        if vector_rows is not None:  # each Embedding copies them into its own parameter
            embedding = Embedding(size=vector_rows.shape[1], n_features=n_features, weights=[vector_rows], **noise)
        return [embedding, Bidirectional(recurrent) if self.bidirectional else recurrent,
                *([Pooling(pool)] if pool else []), Dense(size=n_out, activation=activation)]

    def _fit(self, documents: list, Y, n_out: int, activation: str, cost: str, metric: str):
        """Train on ``documents`` (already checked by :meth:`_documents`) and targets ``Y``."""
        self._check_params()
        if len(Y) != len(documents):
            raise ValueError(f"X has {len(documents)} documents but y has {len(Y)} labels")
        if self.tokenizer is None:
            self.tokenizer_, ids = None, documents
        else:
            self.tokenizer_ = Tokenizer(min_df=self.min_df, max_features=self.max_features, lowercase=self.lowercase,
                                        character=self.tokenizer == "characters", max_len=self.max_len)
            ids = self.tokenizer_.fit_transform(documents)
        seed = self._seed()
        vector_rows = self._vector_rows(seed)
        # too few held-out documents say nothing about an epoch (and AUC needs both classes): train on all
        validating = self.validation_split > 0 and int(round(len(ids) * self.validation_split)) >= MIN_VALIDATION
        self.model_ = self._model(n_out, activation, cost, seed, vector_rows)
        self.model_.fit(ids, Y, batch_size=self.batch_size, n_epochs=self.epochs,
                        validation_split=self.validation_split if validating else 0.0,
                        metric=metric if validating else "loss",
                        patience=self.patience if validating else None, epoch_size=self.epoch_size or None)
        self.history_, self.best_epoch_ = self.model_.history, self.model_.best_epoch
        if self.refit and self.best_epoch_ is not None:  # again from the same start, on all of the data
            self.model_ = self._model(n_out, activation, cost, seed, vector_rows)
            self.model_.fit(ids, Y, batch_size=self.batch_size, n_epochs=self.best_epoch_,
                            epoch_size=self.epoch_size or None)
        return self

    def _model(self, n_out: int, activation: str, cost: str, seed, vector_rows) -> RNN:
        updater = get_updater(self.updater)
        updater.lr = self.lr
        return RNN(self._network(n_out, activation, vector_rows), cost=cost, updater=updater, verbose=self.verbose,
                   seed=seed)

    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict(self._ids(X), batch_size=self.batch_size)

    # ---- files ---------------------------------------------------------------------------------

    def save(self, path) -> None:
        """Write the fitted estimator (network, tokenizer, parameters, classes) to one safe file;
        ``passage.utils.load(path)`` gives it back."""
        check_is_fitted(self, "model_")
        if hasattr(self, "classes_") and not all(isinstance(c, (str, int, float, bool)) for c in self.classes_.tolist()):
            raise ValueError("only labels that are strings, numbers or booleans can be saved to a Passage file; "
                             f"these classes are {self.classes_.tolist()!r} (pickle the estimator instead)")
        config = self.model_.get_config(self.tokenizer_)
        params = self.get_params()
        paths = params["vectors"] if isinstance(params["vectors"], (list, tuple)) else [params["vectors"]]
        if not all(isinstance(path, str) for path in paths):  # only the start of training needed them
            params["vectors"] = None
        config["estimator"] = {"class": type(self).__name__, "params": params, "fitted": self._fitted_state()}
        serialization.write(path, config, serialization.prefixed("layers", self.model_.get_weights()))

    @classmethod
    def _from_file(cls, config: dict, model: RNN) -> "_RNNEstimator":
        estimator = cls(**config["estimator"]["params"])
        estimator.model_, estimator.tokenizer_, estimator.history_ = model, model.tokenizer, []
        estimator.best_epoch_ = None
        model.tokenizer = None
        estimator._set_fitted_state(config["estimator"]["fitted"])
        return estimator

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives __dict__ itself
        if "model_" in state:  # the network travels as its safe config and arrays
            model = state.pop("model_")
            state["_model_config"], state["_model_weights"] = model.get_config(), model.get_weights()
        return state

    def __setstate__(self, state):
        if "_model_config" in state:
            config, weights = state.pop("_model_config"), state.pop("_model_weights")
            state["model_"] = RNN.from_config(config, serialization.prefixed("layers", weights), "a pickle")
        super().__setstate__(state)


class RNNClassifier(ClassifierMixin, _RNNEstimator):
    """A recurrent network that reads texts and predicts their class.

    ``y`` may hold labels of any type (strings, integers), two classes or more, or be a 2-D 0/1
    array for multi-label problems (one sigmoid output per label). ``classes_`` holds the labels
    in the order of ``predict_proba``'s columns.

    Parameters
    ----------
    tokenizer : 'words', 'characters' or None
        How texts become ids; None when ``X`` already holds integer id sequences.
    min_df, max_features, max_len, lowercase
        The :class:`passage.preprocessing.Tokenizer` settings: keep tokens in at least ``min_df``
        documents, at most ``max_features`` ids, cut documents to ``max_len`` ids (None: no cut). The
        default 1,000 keeps whole documents of ordinary length (on IMDB, cutting reviews at 400 ids
        lost 0.003 test AUC) and bounds the time a few giant documents can take.
    embedding_size, hidden_size : int
        Width of the word vectors and of the recurrent state.
    cell : 'gru', 'lstm' or 'simple'
    bidirectional : bool
        Read each text both ways (:class:`passage.layers.Bidirectional`).
    pooling : None, str or list
        Summarise the recurrent states over time (:class:`passage.layers.Pooling`): 'max', 'mean',
        'last' or a mix. The default 'last,max,mean' concatenates the state after the last token (with
        ``bidirectional``, the backward half's after the first) with the maximum and the mean of all
        states ("concat pooling"): on IMDB reviews +0.003 test AUC over 'max,mean' in every seed
        measured, on short sentences no change. None reads the state after the last token alone (the
        2015 model).
    p_drop : float
        Dropout on the recurrent layer's input.
    updater, lr
        The optimizer's name (:mod:`passage.updates`) and learning rate.
    batch_size, epochs : int
    epoch_size : int or None
        An epoch passes over a small training set several times, reshuffled, until it has seen at
        least this many documents (None or 0: one pass). Validation and early stopping then come
        after enough updates to mean something: with 2,000 IMDB reviews, one pass per epoch stopped
        after its first epoch at test AUC 0.82; three passes per epoch (1,800 reviews after the
        validation tenth) reached 0.90. Sets larger than this are passed over once per epoch.
        (10,000 cost a point on 7,000 short sentences, where two passes per epoch overshot.)
    validation_split : float
        Held-out fraction scored after every epoch (0: none; also none when it would hold fewer than
        20 documents: then every epoch trains on all of them and the last is kept).
    patience : int or None
        Stop after this many epochs without a better validation loss; the best epoch is kept.
    random_state : int, RandomState or None
    verbose : int
        0 silent, 1 a line per epoch, 2 also a progress bar.
    vectors : str, WordVectors, a list of them, or None
        Pretrained word vectors to start the Embedding from: a GloVe or word2vec text file's path or a
        :class:`passage.vectors.WordVectors` (then ``embedding_size`` is their width; the share of the
        vocabulary they cover is ``vector_coverage_``). They are fine-tuned with the rest. A list sets
        several side by side (:func:`passage.vectors.concatenate`), e.g. general vectors and word2vec
        of unlabelled text of the task's domain (``examples/word_vectors.py``).
    word_drop : float
        Word dropout: the probability of dropping each word of a text while training (its whole
        vector zeroed; :class:`passage.layers.Embedding`'s ``p_drop``).
    adversarial : float
        Adversarial training (:class:`passage.layers.Embedding`'s ``adversarial``): each batch is also
        read with its word vectors pushed this fraction of their norm uphill; training takes about
        twice as long.
    refit : bool
        After validation has chosen the best epoch (``best_epoch_``), train the network again from
        the same start on all of the data, the held-out part too, for that many epochs, and keep
        that (as ``GridSearchCV``'s ``refit`` does for its best settings); ``history_`` stays the
        validated run's. Costs a second training; pays on small data sets, where the held-out tenth
        is much of what there is to learn from.
    """

    def fit(self, X, y):
        X = self._documents(X)  # the documents are checked before the labels
        y_array = np.asarray(y)
        kind = type_of_target(y_array)
        if kind == "multilabel-indicator":
            self.classes_, self.multilabel_ = np.arange(y_array.shape[1]), True
            return self._fit(X, y_array.astype(np.float32), y_array.shape[1], "sigmoid", "bce", "loss")
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"Unknown label type: {kind!r}. RNNClassifier takes class labels (1-D) or a "
                             "2-D 0/1 array of multi-label targets; for numbers use RNNRegressor")
        y_array = y_array.reshape(-1)
        self.classes_, ids = np.unique(y_array, return_inverse=True)
        self.multilabel_ = False
        if len(self.classes_) < 2:
            raise ValueError(f"y holds one class ({self.classes_.tolist()[0]!r}); a classifier needs at least two")
        if len(self.classes_) == 2:
            return self._fit(X, ids.astype(np.float32), 1, "sigmoid", "bce", "auc")
        return self._fit(X, ids.astype(np.int32), len(self.classes_), "softmax", "cce", "loss")

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities ``(n, n_classes)`` in the order of ``classes_`` (multi-label: one column per
        label, each its own probability), float64 like scikit-learn's own classifiers: each row sums
        to one at float64's precision, so the rows mix with other models' (``VotingClassifier``,
        ``log_loss``) without a warning."""
        P = self._outputs(X).astype(np.float64)
        if self.multilabel_:
            return P
        if len(self.classes_) == 2:
            return np.column_stack([1.0 - P[:, 0], P[:, 0]])
        return P / P.sum(axis=1, keepdims=True)  # the network's softmax sums to one at float32's precision

    def predict(self, X) -> np.ndarray:
        P = self.predict_proba(X)
        if self.multilabel_:
            return (P > 0.5).astype(int)
        return self.classes_[np.argmax(P, axis=1)]

    def _fitted_state(self) -> dict:
        return {"classes": self.classes_.tolist(), "classes_dtype": self.classes_.dtype.str,
                "multilabel": bool(self.multilabel_)}

    def _set_fitted_state(self, state: dict) -> None:
        dtype = object if state["classes_dtype"] == "|O" else np.dtype(state["classes_dtype"])
        self.classes_, self.multilabel_ = np.array(state["classes"], dtype=dtype), state["multilabel"]


class RNNRegressor(RegressorMixin, _RNNEstimator):
    """A recurrent network that reads texts and predicts one number or several (``y`` of shape
    ``(n,)`` or ``(n, k)``). Targets are standardised inside (the talk: regression needs it to
    train stably) and predictions come back in the user's units. Parameters as
    :class:`RNNClassifier`."""

    def fit(self, X, y):
        X = self._documents(X)
        y_array = np.asarray(y, dtype=np.float64)
        if y_array.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D (one target) or 2-D (several), got shape {y_array.shape}")
        if not np.all(np.isfinite(y_array)):
            raise ValueError("y holds NaN or infinite values")
        self.single_output_ = y_array.ndim == 1
        Y = y_array.reshape(len(y_array), -1)
        self.target_mean_ = Y.mean(axis=0)
        scale = Y.std(axis=0)
        self.target_scale_ = np.where(scale > 0, scale, 1.0)
        standardised = ((Y - self.target_mean_) / self.target_scale_).astype(np.float32)
        return self._fit(X, standardised, Y.shape[1], "linear", "mse", "loss")

    def predict(self, X) -> np.ndarray:
        P = self._outputs(X) * self.target_scale_ + self.target_mean_
        return P[:, 0] if self.single_output_ else P

    def _fitted_state(self) -> dict:
        return {"mean": self.target_mean_.tolist(), "scale": self.target_scale_.tolist(),
                "single_output": bool(self.single_output_)}

    def _set_fitted_state(self, state: dict) -> None:
        self.target_mean_, self.target_scale_ = np.array(state["mean"]), np.array(state["scale"])
        self.single_output_ = state["single_output"]


ESTIMATORS = {cls.__name__: cls for cls in (RNNClassifier, RNNRegressor)}


def load_estimator(path) -> _RNNEstimator:
    """The fitted estimator saved at ``path``; a file holding a bare network (``RNN.save``) is refused:
    it has no tokenizer settings to read new text with."""
    from passage.utils import load

    estimator = load(path)
    if type(estimator).__name__ not in ESTIMATORS:
        raise ValueError(f"{path} holds a bare network, not an estimator written by a passage.sklearn "
                         "estimator's save() or by 'passage train': it has no text settings to read new text with")
    return estimator
