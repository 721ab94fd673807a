"""The SIFT bag-of-visual-words transformer, on tiny synthetic images."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from mnist_utils.bovw import BagOfVisualWords, extract_descriptors


def _bars(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images with a horizontal (class 0) or a vertical (class 1) bar at a random place."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.uint8)
    labels = rng.integers(0, 2, n)
    for img, label in zip(images, labels):
        pos, start = rng.integers(6, 22), rng.integers(2, 8)
        if label == 0:
            img[pos - 1 : pos + 2, start : start + 18] = 255
        else:
            img[start : start + 18, pos - 1 : pos + 2] = 255
    return images, labels


def test_histograms_sum_to_one_with_vocabulary_length() -> None:
    images, _ = _bars(40)
    bovw = BagOfVisualWords(8, spatial_pyramid=False, n_jobs=1).fit(images)
    hist = bovw.transform(images)
    assert hist.shape == (40, 8)
    np.testing.assert_allclose(hist.sum(1), 1.0, rtol=1e-5)
    pyramid = BagOfVisualWords(8, n_jobs=1).fit(images).transform(images)
    assert pyramid.shape == (40, 5 * 8)
    np.testing.assert_allclose(pyramid.sum(1), 1.0, rtol=1e-5)


def test_image_without_keypoints_gets_a_valid_histogram() -> None:
    images, _ = _bars(30)
    bovw = BagOfVisualWords(4, sampling="keypoints", spatial_pyramid=False, n_jobs=1).fit(images)
    blank = np.zeros((2, 28, 28), np.uint8)
    assert len(extract_descriptors(blank, sampling="keypoints", n_jobs=1).features) == 0
    hist = bovw.transform(blank)
    assert hist.shape == (2, 4)
    np.testing.assert_allclose(hist, 0.25)


def test_dense_grid_gives_fixed_descriptor_count_in_parallel() -> None:
    images, _ = _bars(30)
    serial = extract_descriptors(images, step=8, n_jobs=1, chunk=10)
    parallel = extract_descriptors(images, step=8, n_jobs=2, chunk=10)
    assert serial.features.shape == (30 * 7 * 7, 128)
    np.testing.assert_array_equal(serial.features, parallel.features)
    np.testing.assert_array_equal(np.bincount(serial.owner), [49] * 30)
    assert (serial.positions >= 0).all() and (serial.positions < 1).all()


def test_fit_transform_in_a_pipeline_separates_classes() -> None:
    x_train, y_train = _bars(80, seed=0)
    x_test, y_test = _bars(40, seed=1)
    model = Pipeline([
        ("bovw", BagOfVisualWords(16, n_jobs=1)),
        ("hellinger", FunctionTransformer(np.sqrt)),
        ("svm", LinearSVC()),
    ]).fit(x_train, y_train)
    assert (model.predict(x_test) == y_test).mean() > 0.9


def test_errors_are_clear() -> None:
    images, _ = _bars(4)
    with pytest.raises(RuntimeError, match="not fitted"):
        BagOfVisualWords(4).transform(images)
    with pytest.raises(ValueError, match="sampling"):
        extract_descriptors(images, sampling="random")
    with pytest.raises(ValueError, match="vocabulary"):
        BagOfVisualWords(10_000, n_jobs=1).fit(images)
    with pytest.raises(ValueError, match="expected images"):
        extract_descriptors(np.zeros((3, 5)))
