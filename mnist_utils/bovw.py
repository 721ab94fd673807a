"""A classical pipeline: SIFT descriptors -> bag of visual words -> SVM.

Each image becomes a set of 128-D SIFT descriptors, at keypoints found by SIFT's detector
(OpenCV) or on a dense grid. A k-means vocabulary (``MiniBatchKMeans``) maps every descriptor
to its nearest "visual word"; an image is the normalised histogram of its words, optionally
per quadrant as well (a 2x2 spatial pyramid, which brings back some layout).
``BagOfVisualWords`` is a scikit-learn transformer, so the classifier is a ``Pipeline``.

Why ``dense_sift`` rather than OpenCV: calling OpenCV's ``SIFT.compute`` image by image was
the chapter's largest cost. On a grid all the descriptors of a batch of images can be computed
at once, as VLFeat's dense SIFT does: gradient magnitudes are split between 8 orientation maps,
and SIFT's weights (a Gaussian window times each cell's bilinear share) are separable in x and
y, so all the cells are two matrix products. The descriptors are OpenCV's at angle-0 keypoints
up to rounding (``tests/test_bovw.py`` compares them), several times faster per core. The SVM
on top is ``mnist_utils.kernel_svm.BlasSVC``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import MiniBatchKMeans
from threadpoolctl import threadpool_limits

SAMPLINGS = ("dense", "keypoints")


@dataclass(frozen=True)
class Descriptors:
    """Descriptors of N images: ``features`` [M, 128], their (x, y) in [0, 1) [M, 2],
    and ``owner`` [M], the index of the image each descriptor came from."""

    features: np.ndarray
    positions: np.ndarray
    owner: np.ndarray
    n_images: int


def workers(n_jobs: int = -1) -> int:
    """Threads for parallel work: ``n_jobs`` if positive, else the cores this process may
    use, capped by the thread budget the runner gives a chapter that runs beside others."""
    from mnist_utils.runtime import THREADS_ENV, available_cores  # here: importing bovw needs no torch

    if n_jobs > 0:
        return n_jobs
    budget = os.environ.get(THREADS_ENV) or os.environ.get("OMP_NUM_THREADS")
    return max(1, min(available_cores(), int(budget) if budget else available_cores()))


def _as_uint8_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 2 and images.shape[1] == 28 * 28:
        images = images.reshape(-1, 28, 28)
    if images.ndim != 3:
        raise ValueError(f"expected images shaped [N, 28, 28] or [N, 784], got {images.shape}")
    if images.dtype != np.uint8:
        scale = 255.0 if images.max() <= 1.0 else 1.0
        images = np.clip(images * scale, 0, 255).astype(np.uint8)
    return images


def _cell_weights(side: int, centres: np.ndarray, size: float) -> np.ndarray:
    """[len(centres) * 4, side]: along one axis, the weight of each pixel in each of the 4
    cells of a descriptor at each centre: SIFT's Gaussian window times the cell's bilinear share."""
    u = (np.arange(side)[None, :] - centres[:, None]) / (3.0 * size / 2)  # offset, in cells
    share = np.maximum(1 - np.abs(u[:, None, :] + 1.5 - np.arange(4)[None, :, None]), 0)
    return (np.exp(-(u**2) / 8)[:, None, :] * share).reshape(-1, side).astype(np.float32)


def dense_sift(big: np.ndarray, step: int, size: float) -> np.ndarray:
    """Upright SIFT descriptors [N * K * K, 128] (uint8) at the K x K grid points
    ``step // 2, step // 2 + step, ...`` of every image of ``big`` [N, S, S] (uint8)."""
    n, side, _ = big.shape
    sigma = float(np.sqrt(1.6**2 - 0.5**2))  # OpenCV's base blur, as a matrix: blur rows of I
    blur = cv2.GaussianBlur(np.eye(side, dtype=np.float32), (int(round(sigma * 8 + 1)) | 1, 1), sigma).T
    img = (blur @ big.astype(np.float32)).reshape(-1, side) @ blur.T
    img = img.reshape(n, side, side)
    dx, dy = np.zeros_like(img), np.zeros_like(img)  # central differences, none on the border
    dx[:, 1:-1, 1:-1] = img[:, 1:-1, 2:] - img[:, 1:-1, :-2]
    dy[:, 1:-1, 1:-1] = img[:, :-2, 1:-1] - img[:, 2:, 1:-1]
    magnitude = np.hypot(dx, dy).ravel()
    angle = np.arctan2(dy, dx).ravel() * np.float32(4 / np.pi) % 8  # in orientation bins
    low = angle.astype(np.int64)
    upper = magnitude * (angle - low)
    pixels = np.arange(magnitude.size)
    channels = np.zeros(8 * magnitude.size, np.float32)  # [8, N, S, S]: one map per orientation
    channels[low % 8 * magnitude.size + pixels] = magnitude - upper
    channels[(low + 1) % 8 * magnitude.size + pixels] = upper
    centres = np.arange(step // 2, side, step)
    k, weights = len(centres), _cell_weights(side, centres, size)
    cells = (channels.reshape(-1, side) @ weights.T).reshape(8 * n, side, 4 * k)  # along x
    cells = np.matmul(weights, cells)  # along y: [8 * N, 4K, 4K]
    h = cells.reshape(8, n, k, 4, k, 4).transpose(1, 2, 4, 3, 5, 0).reshape(n * k * k, 128)
    h = np.minimum(h, 0.2 * np.linalg.norm(h, axis=1, keepdims=True))  # SIFT's normalisation
    h *= 512 / np.maximum(np.linalg.norm(h, axis=1, keepdims=True), np.finfo(np.float32).eps)
    return np.clip(np.rint(h), 0, 255).astype(np.uint8)


def _describe_chunk(images: np.ndarray, sampling: str, upscale: int, step: int,
                    size: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features [M, 128] uint8, positions [M, 2], descriptors per image [N]) of a chunk."""
    side = images.shape[1] * upscale
    big = np.stack([cv2.resize(im, (side, side), interpolation=cv2.INTER_LINEAR) for im in images])
    if sampling == "dense":  # in batches small enough to stay in the CPU's cache
        feats = np.concatenate([dense_sift(big[i : i + 32], step, size) for i in range(0, len(big), 32)])
        centres = np.arange(step // 2, side, step, dtype=np.float32) / side
        grid = np.stack(np.meshgrid(centres, centres), -1).reshape(-1, 2)  # (x, y), row by row
        return feats, np.tile(grid, (len(images), 1)), np.full(len(images), len(grid))
    sift, feats, pos, counts = cv2.SIFT_create(), [], [], []
    for image in big:
        keypoints, f = sift.detectAndCompute(image, None)
        counts.append(len(keypoints) if f is not None else 0)
        if counts[-1]:
            feats.append(f.astype(np.uint8))
            pos.append(np.array([kp.pt for kp in keypoints], dtype=np.float32) / side)
    return (np.concatenate(feats or [np.zeros((0, 128), np.uint8)]),
            np.concatenate(pos or [np.zeros((0, 2), np.float32)]), np.array(counts))


def extract_descriptors(images: np.ndarray, *, sampling: str = "dense", upscale: int = 2, step: int = 8,
                        size: float = 16.0, n_jobs: int = -1, chunk: int = 1000) -> Descriptors:
    """SIFT descriptors of every image, computed over chunks of images by one thread per
    core (NumPy and OpenCV release Python's lock while they compute), each single-threaded."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    images = _as_uint8_images(images)
    chunks = [images[i : i + chunk] for i in range(0, len(images), chunk)]
    opencv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with threadpool_limits(1):
            parts = Parallel(n_jobs=min(workers(n_jobs), len(chunks)), backend="threading")(
                delayed(_describe_chunk)(c, sampling, upscale, step, size) for c in chunks
            )
    finally:
        cv2.setNumThreads(opencv_threads)
    counts = np.concatenate([c for _, _, c in parts])
    return Descriptors(
        features=np.concatenate([f for f, _, _ in parts]).astype(np.float32),
        positions=np.concatenate([p for _, p, _ in parts]),
        owner=np.repeat(np.arange(len(images)), counts),
        n_images=len(images),
    )


def word_histograms(descriptors: Descriptors, words: np.ndarray, vocab_size: int,
                    spatial_pyramid: bool) -> np.ndarray:
    """[N, V] (or [N, 5V] with the 2x2 pyramid) histograms, each row summing to 1.

    An image without descriptors gets the uniform histogram, so it is still a valid
    (if uninformative) input to the classifier.
    """
    regions = 5 if spatial_pyramid else 1
    counts = np.zeros((descriptors.n_images, regions, vocab_size), dtype=np.float64)
    np.add.at(counts, (descriptors.owner, 0, words), 1.0)
    if spatial_pyramid:
        quadrant = 1 + (descriptors.positions[:, 0] >= 0.5) + 2 * (descriptors.positions[:, 1] >= 0.5)
        np.add.at(counts, (descriptors.owner, quadrant, words), 1.0)
    hist = counts.reshape(descriptors.n_images, -1)
    totals = hist.sum(1, keepdims=True)
    empty = totals[:, 0] == 0
    hist[empty] = 1.0
    totals[empty] = hist.shape[1]
    return (hist / totals).astype(np.float32)


class BagOfVisualWords(TransformerMixin, BaseEstimator):
    """Images [N, 28, 28] (uint8 or floats in [0, 1]) -> visual-word histograms."""

    def __init__(
        self,
        vocab_size: int = 128,
        *,
        sampling: str = "dense",
        upscale: int = 2,
        step: int = 8,
        size: float = 16.0,
        spatial_pyramid: bool = True,
        max_descriptors: int = 100_000,
        n_init: int = 1,
        n_jobs: int = -1,
        random_state: int = 0,
    ) -> None:
        self.vocab_size = vocab_size
        self.sampling = sampling
        self.upscale = upscale
        self.step = step
        self.size = size
        self.spatial_pyramid = spatial_pyramid
        self.max_descriptors = max_descriptors
        self.n_init = n_init
        self.n_jobs = n_jobs
        self.random_state = random_state

    def describe(self, images: np.ndarray) -> Descriptors:
        return extract_descriptors(images, sampling=self.sampling, upscale=self.upscale, step=self.step,
                                   size=self.size, n_jobs=self.n_jobs)

    def fit(self, images: np.ndarray, y: np.ndarray | None = None) -> BagOfVisualWords:
        return self.fit_descriptors(self.describe(images))

    def fit_descriptors(self, descriptors: Descriptors) -> BagOfVisualWords:
        """Learn the vocabulary from a random sample of already extracted descriptors."""
        if self.vocab_size < 1:
            raise ValueError(f"vocab_size must be positive, got {self.vocab_size}")
        feats = descriptors.features
        if len(feats) < self.vocab_size:
            raise ValueError(f"{len(feats)} descriptors cannot make a vocabulary of {self.vocab_size} words")
        rng = np.random.default_rng(self.random_state)
        if len(feats) > self.max_descriptors:
            feats = feats[rng.choice(len(feats), self.max_descriptors, replace=False)]
        self.kmeans_ = MiniBatchKMeans(n_clusters=self.vocab_size, batch_size=4096, n_init=self.n_init,
                                       random_state=self.random_state).fit(feats)
        return self

    def transform(self, images: np.ndarray) -> np.ndarray:
        return self.transform_descriptors(self.describe(images))

    def transform_descriptors(self, descriptors: Descriptors) -> np.ndarray:
        if not hasattr(self, "kmeans_"):
            raise RuntimeError("BagOfVisualWords is not fitted yet: call fit first")
        feats = descriptors.features
        words = self.kmeans_.predict(feats) if len(feats) else np.zeros(0, dtype=np.int64)
        return word_histograms(descriptors, words, self.vocab_size, self.spatial_pyramid)
