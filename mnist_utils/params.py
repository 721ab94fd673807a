"""The error a bad chapter parameter raises, and the one check of a positive integer.

Each chapter keeps its settings in one cell tagged ``parameters``. The library
functions that use a value check it where they use it (``TrainConfig``, ``SGDConfig``,
``sgd``, ``fit``, ``random_subset``, ``balanced_subset``, ``batch_indices``,
``minibatches``) and raise ``ParameterError`` with a message that names the parameter, so
a bad value (a batch size of 0, a subset larger than the data, an unknown optimizer)
stops at once instead of failing deep inside training. A count (a batch size, epochs, a
subset size) is checked by ``positive_int`` everywhere, so the same bad value raises the
same error wherever it is used.
"""

from __future__ import annotations

from numbers import Integral


class ParameterError(ValueError):
    """A chapter parameter has a value the chapter cannot use."""


def positive_int(name: str, value: object, *, at_most: int | None = None, what: str = "") -> int:
    """``value`` if it is an integer from 1 (to ``at_most``), else ``ParameterError`` naming ``name``.

    ``what`` says what bounds it, for the message ("the 60000 available samples").
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1 or \
            (at_most is not None and value > at_most):
        bound = "a positive integer" if at_most is None else f"between 1 and {what or at_most}"
        raise ParameterError(f"parameter `{name}` must be {bound}, got {value!r}")
    return int(value)
