"""Validation metrics against scikit-learn, in every output form: one column, a softmax (rows or class
ids), several sigmoid columns, hinge labels, a user's function."""
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from passage import costs, metrics

rng = np.random.default_rng(0)
Y1 = rng.integers(0, 2, (50, 1)).astype(float)
P1 = np.clip(Y1 * 0.3 + rng.uniform(0, 0.7, (50, 1)), 0, 1)
IDS = rng.integers(0, 3, 60)
P3 = rng.dirichlet(np.ones(3), 60)


def test_auc_and_accuracy_of_one_sigmoid_output():
    assert metrics.get("auc", costs.bce).score(Y1, P1) == pytest.approx(roc_auc_score(Y1[:, 0], P1[:, 0]))
    assert metrics.get("ACC", costs.bce).score(Y1, P1) == pytest.approx(accuracy_score(Y1[:, 0], P1[:, 0] > 0.5))


@pytest.mark.parametrize("targets", [np.eye(3)[IDS], IDS], ids=["one-hot rows", "class ids"])
def test_softmax_metrics_take_one_hot_rows_or_class_ids(targets):
    assert metrics.get("accuracy", costs.cce).score(targets, P3) == pytest.approx(
        accuracy_score(IDS, P3.argmax(axis=1)))
    assert metrics.get("roc_auc", costs.cce).score(targets, P3) == pytest.approx(
        roc_auc_score(IDS, P3, multi_class="ovr"))


def test_hinge_labels_split_at_zero():
    Y, P = np.array([[-1.0], [1.0], [1.0], [-1.0]]), np.array([[-0.2], [0.4], [-0.1], [-0.9]])
    assert metrics.get("accuracy", costs.hinge).score(Y, P) == 0.75
    assert metrics.get("auc", costs.hinge).score(Y, P) == pytest.approx(roc_auc_score(Y[:, 0] > 0, P[:, 0]))


def test_a_users_function_is_called_like_scikit_learn_and_named_after_itself():
    def macro_f1(y_true, y_pred):
        return f1_score(y_true, y_pred.argmax(axis=1), average="macro")

    metric = metrics.get(macro_f1, costs.cce)
    assert metric.name == "macro_f1" and metric.greater_is_better
    assert metric.score(IDS, P3) == pytest.approx(macro_f1(IDS, P3))
    assert metrics.get(lambda y, p: float(np.mean(p)), costs.bce).score(Y1, P1) == pytest.approx(P1.mean())


def test_loss_based_metrics_come_from_the_mean_cost():
    assert metrics.get("loss", costs.bce).from_loss(0.3) == 0.3
    assert metrics.get("perplexity", costs.cce).from_loss(np.log(7.0)) == pytest.approx(7.0)
    assert metrics.get("BPC", costs.cce).from_loss(np.log(2.0) * 1.5) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="perplexity measures a language model's cost 'cce'"):
        metrics.get("perplexity", costs.mse)


def test_loss_is_lower_better_and_ties_keep_the_earlier_epoch():
    loss = metrics.get("loss", costs.bce)
    assert not loss.greater_is_better
    assert loss.better(0.2, 0.3) and not loss.better(0.3, 0.3) and loss.better(5.0, None)
    auc = metrics.get("auc", costs.bce)
    assert auc.better(0.9, 0.8) and not auc.better(0.8, 0.8)


def test_an_unknown_metric_names_the_choices():
    with pytest.raises(ValueError, match="use 'loss', 'auc', 'accuracy', 'perplexity', 'bits' or a function"):
        metrics.get("f2", costs.bce)
