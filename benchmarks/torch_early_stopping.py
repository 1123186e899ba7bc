"""Early stopping for the PyTorch side-by-side scripts (``popcorn_torch.py``, ``rotten_torch.py``),
as Passage's ``fit(..., patience=N)`` does it: the best validation epoch's weights are kept, and
training stops after ``patience`` epochs in a row that did not beat it."""
from __future__ import annotations


class BestEpoch:
    def __init__(self, patience: int):
        self.patience, self.score, self.epoch, self.state, self.waited = patience, float("-inf"), 0, None, 0

    def better(self, model, score: float, epoch: int) -> bool:
        """Note ``epoch``'s validation ``score`` (higher is better); keep ``model``'s weights if it is the best."""
        if score > self.score:
            self.score, self.epoch, self.waited = score, epoch, 0
            self.state = {k: v.clone() for k, v in model.state_dict().items()}
            return True
        self.waited += 1
        return False

    @property
    def stop(self) -> bool:
        return self.waited >= self.patience

    def restore(self, model) -> None:
        model.load_state_dict(self.state)
