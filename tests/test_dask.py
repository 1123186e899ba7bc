"""passage.dask: scoring Dask series with a saved estimator, on one process and on a local cluster."""
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")

import passage.dask  # noqa: E402
from passage.sklearn import RNNClassifier, RNNRegressor  # noqa: E402
from test_sklearn import LABELS, SMALL, TEXTS  # noqa: E402


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask")
    clf = RNNClassifier(**SMALL).fit(TEXTS[:300], LABELS[:300])
    clf.save(folder / "clf.passage")
    return folder / "clf.passage", clf


def test_predict_gives_a_dask_series_aligned_with_the_texts(saved):
    path, clf = saved
    texts = dd.from_pandas(pd.Series(TEXTS, index=np.arange(1000, 1400), name="text"), npartitions=3)
    with dask.config.set(scheduler="synchronous"):
        labels = passage.dask.predict(path, texts)
        probabilities = passage.dask.predict(path, texts, output="probability").compute()
        labels = labels.compute()
    assert_array_equal(labels.index, np.arange(1000, 1400))
    assert_array_equal(labels.to_numpy(), clf.predict(TEXTS))
    assert list(probabilities.columns) == ["probability_bad", "probability_good"]
    assert_allclose(probabilities.to_numpy(), clf.predict_proba(TEXTS), rtol=1e-5)


def test_several_targets_come_back_as_a_dask_frame_and_bad_files_fail_early(tmp_path):
    reg = RNNRegressor(**{**SMALL, "epochs": 1}).fit(TEXTS[:100], np.column_stack([np.arange(100.0), -np.arange(100.0)]))
    reg.save(tmp_path / "reg.passage")
    texts = dd.from_pandas(pd.Series(TEXTS[:50]), npartitions=2)
    with dask.config.set(scheduler="synchronous"):
        out = passage.dask.predict(tmp_path / "reg.passage", texts).compute()
    assert list(out.columns) == ["prediction_0", "prediction_1"]
    assert_allclose(out.to_numpy(), reg.predict(TEXTS[:50]), rtol=1e-5)
    with pytest.raises(ValueError, match="no class probabilities"):
        passage.dask.predict(tmp_path / "reg.passage", texts, output="probability")
    reg.model_.save(tmp_path / "bare.passage")
    with pytest.raises(ValueError, match="bare network"):
        passage.dask.predict(tmp_path / "bare.passage", texts)


def test_a_local_cluster_of_two_worker_processes_scores_every_partition(saved):
    distributed = pytest.importorskip("dask.distributed")
    path, clf = saved
    texts = dd.from_pandas(pd.Series(TEXTS), npartitions=8)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        labels = passage.dask.predict(path, texts).compute()
        workers = client.run(lambda: passage.dask._estimator.cache_info().currsize)
    assert_array_equal(labels.to_numpy(), clf.predict(TEXTS))
    assert len(workers) == 2 and all(size <= 1 for size in workers.values())  # loaded at most once each
