"""Minibatches: bucketed lengths, every sample once per epoch, input order restored on predict."""
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from passage.iterators import SortedPadded, bucket_length, pad


def test_bucket_lengths_are_few_and_waste_at_most_a_quarter():
    assert [bucket_length(n) for n in (0, 1, 8, 9, 12, 13, 17, 25, 33, 49, 65, 400)] == \
        [8, 8, 8, 10, 12, 14, 20, 28, 40, 56, 80, 448]
    for n in range(9, 5000):
        assert n <= bucket_length(n) < 1.25 * n
    assert len({bucket_length(n) for n in range(1, 5001)}) == 38  # 8, 10, 12, 14, 16, 20, ..., 4096, 5120


def test_pad_right_pads_ids_and_features_with_a_mask():
    x, mask = pad([[4, 5, 6], [7]], 4)
    assert_array_equal(x, [[4, 7], [5, 0], [6, 0], [0, 0]])
    assert_array_equal(mask, [[1, 1], [1, 0], [1, 0], [0, 0]])
    assert x.dtype == np.int32 and mask.dtype == np.float32
    steps, mask = pad([np.ones((2, 3)), np.zeros((0, 3))], 8, feature_size=3)
    assert steps.shape == (8, 2, 3) and steps.sum() == 6 and mask.sum() == 2


def test_batches_pad_to_their_bucket_but_never_beyond_the_longest_sequence():
    X = [[1] * 400] * 70 + [[2] * 30] * 60  # texts cut to 400 ids: 400 is not a bucket (384, 448)
    trained = {x.shape[0] for _, x, _ in SortedPadded(64).train(X, np.random.default_rng(0))}
    predicted = {x.shape[0] for _, x, _ in SortedPadded(64).predict(X)}
    assert 400 in trained and trained <= {400, 32} and 400 in predicted and predicted <= {400, 32}
    one_batch = [x.shape[0] for _, x, _ in SortedPadded(64).predict([[3] * 17])]
    assert one_batch == [20]  # a call of one batch keeps to the buckets: calls one by one share shapes


def test_full_buckets_give_batches_drawn_at_random_from_one_bucket():
    rng = np.random.default_rng(5)
    X = [[1] * length for length in rng.integers(1, 400, 5000)]
    batches = [indices for indices, _, _ in SortedPadded(64).train(X, np.random.default_rng(6))]
    one_bucket = [b for b in batches if len(b) == 64 and len({bucket_length(len(X[i])) for i in b}) == 1]
    assert len(one_bucket) >= 0.8 * len(batches)  # the rest: what the buckets left over, sorted together
    again = [b for b, _, _ in SortedPadded(64).train(X, np.random.default_rng(7))]
    by_first = {b[0]: set(b) for b in again}
    assert sum(by_first.get(b[0]) == set(b) for b in one_bucket) < 3  # the same batches only by chance
    assert sum(x.size for _, x, _ in SortedPadded(64).train(X, np.random.default_rng(6))) < 1.12 * sum(map(len, X))


@pytest.mark.parametrize("n, size", [(1, 4), (100, 7), (1000, 64)])
def test_training_batches_cover_every_sample_exactly_once_per_epoch(n, size):
    rng = np.random.default_rng(0)
    X = [rng.integers(1, 9, length).tolist() for length in rng.integers(0, 60, n)]
    seen = []
    for indices, x, mask in SortedPadded(size).train(X, np.random.default_rng(1)):
        assert len(indices) <= size and x.shape == mask.shape == (x.shape[0], len(indices))
        longest = max(len(X[i]) for i in indices)
        assert x.shape[0] == min(bucket_length(longest), max(1, max(map(len, X))))  # no longer than any sequence
        for column, i in enumerate(indices):
            assert_array_equal(x[:len(X[i]), column], X[i])
            assert mask[:, column].sum() == len(X[i])
        seen += list(indices)
    assert sorted(seen) == list(range(n))


def test_training_batches_group_similar_lengths_and_their_order_changes_with_the_generator():
    rng = np.random.default_rng(2)
    X = [[1] * length for length in rng.integers(1, 400, 2000)]
    batches = list(SortedPadded(64).train(X, np.random.default_rng(3)))
    padded = sum(x.size for _, x, _ in batches)
    assert padded < 1.4 * sum(map(len, X))  # random batches would pad to ~2x here
    again = [list(i) for i, _, _ in SortedPadded(64).train(X, np.random.default_rng(4))]
    assert again != [list(i) for i, _, _ in batches]


def test_prediction_batches_cover_every_input_once_so_outputs_go_back_in_input_order():
    rng = np.random.default_rng(5)
    X = [rng.integers(1, 9, length).tolist() for length in rng.integers(0, 50, 300)]
    outputs = np.full(len(X), -1)
    for indices, x, mask in SortedPadded(32).predict(X):
        outputs[indices] = mask.sum(axis=0)  # each sequence's own length, written at its position
    assert_array_equal(outputs, [len(x) for x in X])


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(ValueError, match="positive integer"):
        SortedPadded(0)
