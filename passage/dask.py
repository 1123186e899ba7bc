"""Scoring at cluster scale with Dask: ``predict(model_path, ddf['text'])`` returns a Dask series.

    import dask.dataframe as dd
    from dask.distributed import Client
    import passage.dask

    client = Client(n_workers=8, threads_per_worker=1)
    reviews = dd.read_parquet("reviews/*.parquet")
    reviews["sentiment"] = passage.dask.predict("sentiment.passage", reviews["text"])
    reviews.to_parquet("scored/")

Each worker process loads the safe model file once (the first partition it scores) and keeps it
for the rest; partitions are scored where they lie, so only predictions travel. The model is any
file written by a :mod:`passage.sklearn` estimator's ``save`` or ``passage train``; the file must be
readable at the same path from every worker (a shared disk or object-store mount). Needs the
``dask`` extra: ``pip install passage[dask]``.

One worker thread per process is the right shape: the compiled network already uses the core
it runs on fully, and threads within one process would share one Python interpreter.
"""
from __future__ import annotations

import functools
import os

import numpy as np
import pandas as pd

__all__ = ["predict", "predict_partition"]


@functools.lru_cache(maxsize=4)
def _estimator(path: str, modified: float):
    """The estimator in ``path``, loaded once per process (per version of the file)."""
    from passage.sklearn import load_estimator

    return load_estimator(path)


def predict_partition(texts: pd.Series, model_path: str, output: str = "prediction"):
    """Score one partition (a pandas Series of texts) with the model at ``model_path``: the function
    :func:`predict` maps over the partitions, usable on its own with ``map_partitions``."""
    path = os.path.abspath(model_path)
    estimator = _estimator(path, os.path.getmtime(path))
    documents = ["" if pd.isna(text) else str(text) for text in texts.tolist()]
    if not documents:
        return _meta(estimator, output)
    if output == "probability":
        P = estimator.predict_proba(documents)
        return pd.DataFrame(P, index=texts.index, columns=[f"probability_{c}" for c in estimator.classes_])
    values = estimator.predict(documents)
    if values.ndim == 2:  # several targets, or several labels
        return pd.DataFrame(values, index=texts.index, columns=[f"prediction_{i}" for i in range(values.shape[1])])
    return pd.Series(values, index=texts.index, name="prediction")


def _meta(estimator, output: str):
    """The empty frame or series a partition's result looks like (Dask's ``meta``)."""
    if output == "probability":
        return pd.DataFrame({f"probability_{c}": pd.Series(dtype="float64") for c in estimator.classes_})
    classifier = hasattr(estimator, "classes_")
    if classifier and estimator.multilabel_:  # one 0/1 column per label
        return pd.DataFrame({f"prediction_{i}": pd.Series(dtype="int64") for i in range(len(estimator.classes_))})
    if not classifier and not estimator.single_output_:
        return pd.DataFrame({f"prediction_{i}": pd.Series(dtype="float64") for i in range(len(estimator.target_mean_))})
    return pd.Series(estimator.classes_[:0] if classifier else np.zeros(0), name="prediction")


def predict(model_path, texts, output: str = "prediction"):
    """Predictions for a Dask series of ``texts``, aligned with it: a Dask series of the predicted
    label (or value, for a regressor); a Dask DataFrame of ``prediction_<i>`` columns for several
    labels or targets; with ``output='probability'`` one ``probability_<class>`` column per class."""
    if output not in ("prediction", "probability"):
        raise ValueError(f"output must be 'prediction' or 'probability', got {output!r}")
    path = os.path.abspath(os.fspath(model_path))
    estimator = _estimator(path, os.path.getmtime(path))  # a bad file fails here, before any work is sent
    if output == "probability" and not hasattr(estimator, "classes_"):
        raise ValueError(f"{path} holds a regressor: it has no class probabilities")
    return texts.map_partitions(predict_partition, path, output, meta=_meta(estimator, output))
