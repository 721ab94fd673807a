"""The error a bad chapter parameter raises.

Each chapter keeps its settings in one cell tagged ``parameters``. The library
functions that use a value check it where they use it (``TrainConfig``, ``SGDConfig``,
``sgd``, ``fit``, ``random_subset``, ``balanced_subset``, ``minibatches``) and raise
``ParameterError`` with a message that names the parameter, so a bad value (a batch
size of 0, a subset larger than the data, an unknown optimizer) stops at once instead
of failing deep inside training.
"""

from __future__ import annotations


class ParameterError(ValueError):
    """A chapter parameter has a value the chapter cannot use."""
