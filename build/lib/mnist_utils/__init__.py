"""mnist_utils: the shared machinery of the course "MNIST from a linear classifier to a ViT".

Chapters import the submodules they need (``from mnist_utils.data import load_mnist``);
this file imports nothing heavy, so ``import mnist_utils`` is instant and has no side effects.
"""

__version__ = "0.1.0"
