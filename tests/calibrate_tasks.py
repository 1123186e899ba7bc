"""Calibrate the synthetic per-token tasks of tests/test_outputs.py against an independent
implementation (PyTorch, ``pip install .[bench]``): which tasks a forward and a bidirectional GRU
learn, with the same data, sizes, optimizer and epochs as the tests.

    python tests/calibrate_tasks.py
"""
import numpy as np
import torch

from test_outputs import look_ahead_task, one_step_memory_task


def per_token_accuracy(bidirectional: bool, task, seed: int) -> float:
    torch.manual_seed(seed)
    rng = np.random.default_rng(0)
    X, Y = task(3000, rng)
    embedding, gru = torch.nn.Embedding(20, 16), torch.nn.GRU(16, 32, bidirectional=bidirectional)
    dense = torch.nn.Linear(64 if bidirectional else 32, 1)
    parameters = [*embedding.parameters(), *gru.parameters(), *dense.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=3e-3)

    def batch(indices):
        lengths = [len(X[i]) for i in indices]
        x = torch.zeros(max(lengths), len(indices), dtype=torch.long)
        y = torch.zeros(max(lengths), len(indices))
        for column, i in enumerate(indices):
            x[:lengths[column], column] = torch.tensor(X[i])
            y[:lengths[column], column] = torch.tensor(Y[i], dtype=torch.float32)
        packed = torch.nn.utils.rnn.pack_padded_sequence(embedding(x), lengths, enforce_sorted=False)
        h, _ = torch.nn.utils.rnn.pad_packed_sequence(gru(packed)[0], total_length=max(lengths))
        mask = (torch.arange(max(lengths))[:, None] < torch.tensor(lengths)[None, :]).float()
        return dense(h)[..., 0], y, mask

    for _ in range(5):
        for start in range(0, 2500, 64):
            logits, y, mask = batch(range(start, min(start + 64, 2500)))
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none") * mask).sum()
            optimizer.zero_grad()
            (loss / mask.sum()).backward()
            optimizer.step()
    with torch.no_grad():
        logits, y, mask = batch(range(2500, 3000))
        return float((((logits > 0).float() == y).float() * mask).sum() / mask.sum())


if __name__ == "__main__":
    for task in (one_step_memory_task, look_ahead_task):
        for bidirectional in (False, True):
            scores = [per_token_accuracy(bidirectional, task, seed) for seed in range(3)]
            print(f"{task.__name__:22s} {'bidirectional' if bidirectional else 'forward':13s} "
                  f"per-token accuracy {min(scores):.3f}..{max(scores):.3f} (3 seeds)")
