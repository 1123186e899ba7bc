"""Popcorn's default recipe in PyTorch: is the recipe or our implementation what limits the AUC?

Same data and split as ``python examples/popcorn.py`` (packaged IMDB reviews, 20,000 / 5,000, the
popcorn tokenizer: min_df 10, reviews cut to their first 400 ids), the same model (Embedding 128 ->
GRU 128 with dropout 0.5 on its input -> max and mean over the states of the real words -> Dense ->
sigmoid), the same training (Adam 0.002, batches of 64 from Passage's length-sorted iterator, a
random tenth held out, up to 4 epochs, patience 2, the best validation epoch kept), written with
``torch.nn``. The one difference is the cell: ``nn.GRU`` is the reset-after GRU with the plain
logistic gates (Passage: the 2015 equations, steeper gates). Initialisation as Passage's: uniform
±0.05 embeddings, orthogonal recurrent and input weights per gate, zero biases.

    python benchmarks/popcorn_torch.py --seed 0     # needs the bench extra (torch)
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.metrics import accuracy_score, roc_auc_score

from passage.datasets import load_imdb
from passage.iterators import SortedPadded
from passage.preprocessing import Tokenizer, clean
from torch_early_stopping import BestEpoch  # this script's folder


class PooledGRU(torch.nn.Module):
    def __init__(self, n_features: int, embedding: int, hidden: int, p_drop: float):
        super().__init__()
        self.embedding = torch.nn.Embedding(n_features, embedding)
        self.drop = torch.nn.Dropout(p_drop)
        self.gru = torch.nn.GRU(embedding, hidden)
        self.out = torch.nn.Linear(2 * hidden, 1)
        torch.nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        for weight in (self.gru.weight_ih_l0, self.gru.weight_hh_l0):
            for gate in weight.data.chunk(3, 0):
                torch.nn.init.orthogonal_(gate)
        for bias in (self.gru.bias_ih_l0, self.gru.bias_hh_l0, self.out.bias):
            torch.nn.init.zeros_(bias)

    def forward(self, ids, mask):  # ids, mask: (time, batch)
        states, _ = self.gru(self.drop(self.embedding(ids) * mask[:, :, None]))
        real = mask[:, :, None]
        pooled_max = states.masked_fill(real == 0, -1e30).amax(0)
        pooled_mean = (states * real).sum(0) / real.sum(0).clamp(min=1)
        return self.out(torch.cat([pooled_max, pooled_mean], 1)).squeeze(1)


def predict(model, X, iterator) -> np.ndarray:
    model.eval()
    out = np.empty(len(X), np.float32)
    with torch.no_grad():
        for indices, x, mask in iterator.predict(X):
            out[indices] = torch.sigmoid(model(torch.from_numpy(x).long(), torch.from_numpy(mask).float())).numpy()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--patience", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_flush_denormal(True)
    rng = np.random.default_rng(args.seed)

    (train_texts, trY), (test_texts, teY) = load_imdb()
    tokenizer = Tokenizer(min_df=10, max_features=100000, max_len=400)
    trX = tokenizer.fit_transform([clean(t) for t in train_texts])
    teX = tokenizer.transform([clean(t) for t in test_texts])
    held_out = np.zeros(len(trX), bool)
    held_out[rng.permutation(len(trX))[:len(trX) // 10]] = True
    fitX, fitY = [trX[i] for i in np.flatnonzero(~held_out)], trY[~held_out]
    valX, valY = [trX[i] for i in np.flatnonzero(held_out)], trY[held_out]

    model = PooledGRU(tokenizer.n_features, 128, 128, 0.5)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.002)
    iterator = SortedPadded(size=64)
    best, start = BestEpoch(args.patience), time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        costs, epoch_start = [], time.time()
        for indices, x, mask in iterator.train(fitX, rng):
            optimizer.zero_grad()
            logits = model(torch.from_numpy(x).long(), torch.from_numpy(mask).float())
            cost = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, torch.from_numpy(fitY[indices].astype(np.float32)))
            cost.backward()
            optimizer.step()
            costs.append(cost.item())
        auc = roc_auc_score(valY, predict(model, valX, iterator))
        better = best.better(model, auc, epoch)
        print(f"epoch {epoch}/{args.epochs}  cost {np.mean(costs):.4f}  val_auc {auc:.4f}{' (best)' if better else ''}"
              f"  {time.time() - epoch_start:.1f}s", flush=True)
        if best.stop:
            break
    best.restore(model)
    print(f"trained in {time.time() - start:.0f} s")
    p = predict(model, teX, iterator)
    print(f"PyTorch: test ROC AUC {roc_auc_score(teY, p):.4f}  accuracy {accuracy_score(teY, p > 0.5):.4f}")


if __name__ == "__main__":
    main()
