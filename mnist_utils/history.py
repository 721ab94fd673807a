"""What a training run records, for both trainers, and the one accuracy function.

The hand-coded SGD of the linear chapters (``linear.sgd``) and the neural-network
trainer (``training.fit``) record their runs in the same ``History``, so every plot
and table in the book reads runs the same way:

* ``step``: optimizer steps taken when the record was made; ``epoch``: passes over
  the training data (``step`` / steps per epoch, a float for the linear runs);
* ``seconds``: training time so far, *excluding* every evaluation;
* ``running_loss`` / ``running_acc``: the mean minibatch loss and accuracy since the
  previous record, measured while the weights were still changing (cheap, but it lags
  behind the model at the record: the reason a "train" curve can sit below the test
  curve in the first epoch);
* ``loss[name]`` / ``acc[name]``: a full evaluation of the model at the record on each
  named evaluation set (``"val"``, ``"train"``, ...). Never ``"test"``: the book's
  protocol (book/protocol.md) plots curves on a validation split and scores the test set
  once per final model, after training, so ``record`` refuses that name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch


def accuracy(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows of ``scores`` [N, classes] whose largest entry is at ``labels`` [N]."""
    if len(scores) != len(labels):
        raise ValueError(f"scores and labels differ in length: {len(scores)} vs {len(labels)}")
    return (scores.argmax(1) == labels).float().mean().item()


@dataclass
class History:
    """The records of one training run (accuracies are fractions in [0, 1])."""

    step: list[int] = field(default_factory=list)
    epoch: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    running_loss: list[float] = field(default_factory=list)
    running_acc: list[float] = field(default_factory=list)
    loss: dict[str, list[float]] = field(default_factory=dict)
    acc: dict[str, list[float]] = field(default_factory=dict)
    batch_loss: list[float] = field(default_factory=list)  # every step's minibatch loss, if kept

    def record(
        self,
        *,
        step: int,
        epoch: float,
        seconds: float,
        running: tuple[float, float],
        evaluations: Mapping[str, tuple[float, float]],
    ) -> None:
        """Append one record; ``evaluations`` maps a set's name to its (loss, accuracy)."""
        if "test" in evaluations:
            raise ValueError("an evaluation set named 'test' during training: curves use a validation "
                             "split, and the test set is scored once after training (book/protocol.md)")
        self.step.append(step)
        self.epoch.append(epoch)
        self.seconds.append(seconds)
        self.running_loss.append(running[0])
        self.running_acc.append(running[1])
        for name, (loss, acc) in evaluations.items():
            self.loss.setdefault(name, []).append(loss)
            self.acc.setdefault(name, []).append(acc)

    @property
    def train_seconds(self) -> float:
        """Training time of the whole run, evaluations excluded."""
        return self.seconds[-1] if self.seconds else 0.0

    def final(self, name: str = "val") -> float:
        """The last recorded accuracy on the evaluation set ``name``."""
        if name not in self.acc:
            raise KeyError(f"no evaluation set {name!r} in this run; it has {sorted(self.acc)}")
        return self.acc[name][-1]
