"""A classical pipeline: SIFT descriptors -> bag of visual words -> SVM.

Each image becomes a set of 128-D SIFT descriptors (OpenCV), either at keypoints found
by SIFT's own detector or on a dense grid. A k-means vocabulary (``MiniBatchKMeans``)
maps every descriptor to its nearest "visual word", and the image is summarised by the
normalised histogram of its words, optionally per quadrant as well (a 2x2 spatial
pyramid, which brings back some of the layout a plain bag throws away).

``BagOfVisualWords`` is a scikit-learn transformer, so the whole classifier is a
``Pipeline`` and its hyperparameters can be chosen with scikit-learn's tools.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import MiniBatchKMeans

SAMPLINGS = ("dense", "keypoints")


@dataclass(frozen=True)
class Descriptors:
    """Descriptors of N images: ``features`` [M, 128], their (x, y) in [0, 1) [M, 2],
    and ``owner`` [M], the index of the image each descriptor came from."""

    features: np.ndarray
    positions: np.ndarray
    owner: np.ndarray
    n_images: int


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


def _describe_chunk(
    images: np.ndarray, sampling: str, upscale: int, step: int, size: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    cv2.setNumThreads(1)  # this worker is one of several processes already
    sift = cv2.SIFT_create()
    side = images.shape[1] * upscale
    grid = [
        cv2.KeyPoint(float(x), float(y), size)
        for y in range(step // 2, side, step)
        for x in range(step // 2, side, step)
    ]
    out = []
    for image in images:
        big = cv2.resize(image, (side, side), interpolation=cv2.INTER_LINEAR)
        if sampling == "dense":
            keypoints, feats = sift.compute(big, grid)
        else:
            keypoints, feats = sift.detectAndCompute(big, None)
        if feats is None or len(keypoints) == 0:
            out.append((np.zeros((0, 128), np.float32), np.zeros((0, 2), np.float32)))
            continue
        pos = np.array([kp.pt for kp in keypoints], dtype=np.float32) / side
        out.append((feats.astype(np.float32), pos))
    return out


def extract_descriptors(
    images: np.ndarray,
    *,
    sampling: str = "dense",
    upscale: int = 2,
    step: int = 8,
    size: float = 16.0,
    n_jobs: int = -1,
    chunk: int = 500,
) -> Descriptors:
    """SIFT descriptors of every image, computed in parallel over chunks of images."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    images = _as_uint8_images(images)
    chunks = [images[i : i + chunk] for i in range(0, len(images), chunk)]
    jobs = 1 if len(chunks) == 1 else n_jobs
    results = Parallel(n_jobs=jobs)(
        delayed(_describe_chunk)(c, sampling, upscale, step, size) for c in chunks
    )
    per_image = [item for part in results for item in part]
    owner = np.concatenate(
        [np.full(len(f), i, dtype=np.int64) for i, (f, _) in enumerate(per_image)]
    )
    return Descriptors(
        features=np.concatenate([f for f, _ in per_image]),
        positions=np.concatenate([p for _, p in per_image]),
        owner=owner,
        n_images=len(images),
    )


def word_histograms(
    descriptors: Descriptors, words: np.ndarray, vocab_size: int, spatial_pyramid: bool
) -> np.ndarray:
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
        self.n_jobs = n_jobs
        self.random_state = random_state

    def describe(self, images: np.ndarray) -> Descriptors:
        return extract_descriptors(
            images, sampling=self.sampling, upscale=self.upscale, step=self.step,
            size=self.size, n_jobs=self.n_jobs,
        )

    def fit(self, images: np.ndarray, y: np.ndarray | None = None) -> BagOfVisualWords:
        return self.fit_descriptors(self.describe(images))

    def fit_descriptors(self, descriptors: Descriptors) -> BagOfVisualWords:
        """Learn the vocabulary from a random sample of already extracted descriptors."""
        if self.vocab_size < 1:
            raise ValueError(f"vocab_size must be positive, got {self.vocab_size}")
        feats = descriptors.features
        if len(feats) < self.vocab_size:
            raise ValueError(
                f"{len(feats)} descriptors cannot make a vocabulary of {self.vocab_size} words"
            )
        rng = np.random.default_rng(self.random_state)
        if len(feats) > self.max_descriptors:
            feats = feats[rng.choice(len(feats), self.max_descriptors, replace=False)]
        self.kmeans_ = MiniBatchKMeans(
            n_clusters=self.vocab_size, batch_size=4096, n_init=3, random_state=self.random_state
        ).fit(feats)
        return self

    def transform(self, images: np.ndarray) -> np.ndarray:
        return self.transform_descriptors(self.describe(images))

    def transform_descriptors(self, descriptors: Descriptors) -> np.ndarray:
        if not hasattr(self, "kmeans_"):
            raise RuntimeError("BagOfVisualWords is not fitted yet: call fit first")
        words = (
            self.kmeans_.predict(descriptors.features)
            if len(descriptors.features)
            else np.zeros(0, dtype=np.int64)
        )
        return word_histograms(descriptors, words, self.vocab_size, self.spatial_pyramid)
