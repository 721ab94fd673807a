"""The SIFT bag-of-visual-words pipeline (``bovw``, ``kernel_svm``), on tiny synthetic data,
against its references: OpenCV's SIFT for ``dense_sift``, libsvm's ``SVC`` for ``BlasSVC``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.metrics.pairwise import rbf_kernel as sklearn_rbf_kernel
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import SVC, LinearSVC

from mnist_utils.bovw import BagOfVisualWords, dense_sift, extract_descriptors, workers
from mnist_utils.kernel_svm import BlasSVC, rbf_kernel, scale_gamma


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


def test_dense_sift_matches_opencv_at_upright_keypoints() -> None:
    images, _ = _bars(20)
    big = np.stack([cv2.resize(im, (56, 56), interpolation=cv2.INTER_LINEAR) for im in images])
    for step, size in ((6, 5.0), (8, 16.0)):
        grid = [cv2.KeyPoint(float(x), float(y), size, 0.0)
                for y in range(step // 2, 56, step) for x in range(step // 2, 56, step)]
        sift = cv2.SIFT_create()
        reference = np.concatenate([sift.compute(image, grid)[1] for image in big])
        gap = np.abs(dense_sift(big, step, size).astype(np.float32) - reference)
        assert gap.max() <= 2  # both round to whole numbers from sums that differ in the last bits
        assert (gap == 0).mean() > 0.99


def test_workers_follow_the_thread_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MNIST_TORCH_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert workers(3) == 3
    assert workers() >= 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert workers() == 1
    monkeypatch.setenv("MNIST_TORCH_THREADS", "1")
    assert workers(-1) == 1


def _classes(n: int, classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x, y = make_classification(n, 12, n_informative=6, n_classes=classes, n_clusters_per_class=1,
                               class_sep=1.0, random_state=seed)
    return x.astype(np.float32), y


def test_rbf_kernel_matches_scikit_learn() -> None:
    x, _ = _classes(50, 2)
    gamma = scale_gamma(x)
    np.testing.assert_allclose(rbf_kernel(x[:20], x, gamma), sklearn_rbf_kernel(x[:20], x, gamma=gamma),
                               atol=1e-5)
    assert gamma == pytest.approx(1 / (x.shape[1] * x.astype(np.float64).var()), rel=1e-5)


@pytest.mark.parametrize("classes", [2, 4])
def test_blas_svc_matches_libsvm(classes: int) -> None:
    x, y = _classes(400, classes)
    x_new, _ = _classes(300, classes, seed=1)
    for c in (1.0, 100.0):
        libsvm = SVC(C=c, gamma="scale", decision_function_shape="ovo").fit(x, y)
        blas = BlasSVC(C=c).fit(x, y)
        np.testing.assert_array_equal(np.sort(blas.support_), np.sort(libsvm.support_))
        np.testing.assert_array_equal(blas.predict(x_new), libsvm.predict(x_new))
        scores = libsvm.decision_function(x_new).reshape(len(x_new), -1)
        if classes == 2:  # scikit-learn flips libsvm's sign for two classes
            scores = -scores
        np.testing.assert_allclose(blas.pair_scores(x_new), scores, atol=1e-3)
        again = BlasSVC(C=c, gamma=blas.gamma_).fit(x, y, kernel=rbf_kernel(x, x, blas.gamma_))
        np.testing.assert_array_equal(again.support_, blas.support_)


def test_decomposed_fit_is_the_svm_of_all_images() -> None:
    x, y = _classes(900, 3)
    x_new, _ = _classes(300, 3, seed=1)
    whole = BlasSVC(C=10.0).fit(x, y)
    chunked = BlasSVC(C=10.0, working_set=200).fit(x, y)
    assert len(chunked.rounds_) > 1 and chunked.rounds_[0][0] == 200
    assert chunked.rounds_[-1][2] == 0  # no image outside the last working set violates its margin
    assert max(r[0] for r in chunked.rounds_) < len(x)
    assert abs(len(chunked.support_) - len(whole.support_)) <= 0.01 * len(whole.support_) + 1
    assert (chunked.predict(x_new) == whole.predict(x_new)).mean() >= 0.99
    capped = BlasSVC(C=10.0, working_set=200, max_rounds=1).fit(x, y)
    assert len(capped.rounds_) == 1 and capped.rounds_[0][2] > 0
