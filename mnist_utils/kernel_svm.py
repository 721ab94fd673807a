"""An RBF-kernel SVM trained by libsvm's solver on kernel values computed by BLAS.

Why: scikit-learn's ``SVC`` (libsvm) computes its RBF kernel one pair of vectors at a time,
and on the chapter's histograms that is nearly all of its training time. ``BlasSVC`` computes
the kernel matrix as one matrix product, |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, hands it to the
same solver (``SVC(kernel="precomputed")``), and predicts the same way: the kernel values
against the support vectors, every one-against-one score in one more product, libsvm's vote.
``tests/test_bovw.py`` checks its support vectors, scores and labels against ``SVC``.

On many images the fit is decomposed (Osuna et al. 1997): train on a working set, keep its
support vectors, add every image that violates its margin, and train again until none does.
An image that satisfies its margin would get a zero weight if it were added, so the result is
the SVM of all the images, while each kernel matrix stays the size of a working set and the
kernel columns of the support vectors are computed once.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.svm import SVC


def scale_gamma(X: np.ndarray) -> float:
    """scikit-learn's ``gamma="scale"``: 1 / (n_features * X.var())."""
    return 1 / (X.shape[1] * float(np.var(X)))


def rbf_kernel(a: np.ndarray, b: np.ndarray, gamma: float) -> np.ndarray:
    """[len(a), len(b)] float32: exp(-gamma |a_i - b_j|^2), with |a - b|^2 = |a|^2 + |b|^2 - 2 a.b
    so that all the dot products are one matrix product."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    log_k = (np.float32(2 * gamma) * a) @ b.T  # -gamma |a - b|^2, clipped at 0 against rounding
    log_k -= gamma * np.einsum("ij,ij->i", a, a)[:, None] + gamma * np.einsum("ij,ij->i", b, b)[None, :]
    return np.exp(np.minimum(log_k, 0, out=log_k), out=log_k)


class BlasSVC(ClassifierMixin, BaseEstimator):
    """RBF-kernel SVM: libsvm's solver on kernel values computed by BLAS (see the module's
    docstring). With ``working_set`` = m smaller than the training set, ``fit`` starts from
    its first m images; ``rounds_`` lists (working set, support vectors, violators) per round."""

    def __init__(self, C: float = 1.0, gamma: float | str = "scale", *,
                 working_set: int | None = None, max_rounds: int = 10, tol: float = 1e-3) -> None:
        self.C = C
        self.gamma = gamma
        self.working_set = working_set
        self.max_rounds = max_rounds
        self.tol = tol

    def fit(self, X: np.ndarray, y: np.ndarray, kernel: np.ndarray | None = None) -> BlasSVC:
        """``kernel``, if given, is ``rbf_kernel(X, X, gamma)`` already computed (to try several C)."""
        X, y = np.asarray(X, np.float32), np.asarray(y)
        n = len(X)
        self.gamma_ = scale_gamma(X) if self.gamma == "scale" else self.gamma
        m = n if kernel is not None or not self.working_set else min(self.working_set, n)
        active = np.arange(m)
        gram = rbf_kernel(X[:m], X[:m], self.gamma_) if kernel is None else kernel
        blocks, known = [], np.zeros(n, bool)  # (columns j, K(X, X[j])) for every support vector so far
        self.rounds_ = []
        while True:
            svc = SVC(C=self.C, kernel="precomputed", tol=self.tol)
            sv = active[svc.fit(np.asarray(gram, np.float64), y[active]).support_]
            self._keep(svc, X, sv)
            outside = np.ones(n, bool)
            outside[active] = False
            if not outside.any():
                self.rounds_.append((m, len(sv), 0))
                return self
            if not known[sv].all():  # kernel columns of the new support vectors, for every image
                blocks.append((sv[~known[sv]], rbf_kernel(X, X[sv[~known[sv]]], self.gamma_)))
                known[sv] = True
            pos = np.full(n, -1)
            pos[sv] = np.arange(len(sv))  # where each support vector sits in support_
            scores = self.intercept_ + sum(
                block @ np.where(pos[cols, None] >= 0, self.pair_weights_[pos[cols]], 0).astype(np.float32)
                for cols, block in blocks)
            violators = np.flatnonzero(outside & (self._margins(scores, y) < 1 - self.tol))
            self.rounds_.append((len(active), len(sv), len(violators)))
            if not len(violators) or len(self.rounds_) >= self.max_rounds:
                return self
            # the next working set: the support vectors (kernel columns cached) and the violators
            rows = [np.flatnonzero(pos[cols] >= 0) for cols, _ in blocks]
            active = np.concatenate([cols[r] for (cols, _), r in zip(blocks, rows)] + [violators])
            gram, at = np.empty((len(active), len(active))), 0  # float64, as libsvm wants it
            for (_, block), r in zip(blocks, rows):
                gram[:, at : at + len(r)], at = block[active][:, r], at + len(r)
            gram[:, at:] = rbf_kernel(X[active], X[violators], self.gamma_)

    def _keep(self, svc: SVC, X: np.ndarray, sv: np.ndarray) -> None:
        """Support vectors and their weights in each one-against-one SVM: in pair (i, j), a
        support vector of class i weighs with libsvm's coefficient row j - 1, one of class j
        with row i (the rows of ``svc._dual_coef_``, libsvm's own signs)."""
        self.classes_, self.n_support_ = svc.classes_, svc.n_support_
        self.support_, self.support_vectors_ = sv, X[sv]
        i, j = np.triu_indices(len(self.classes_), 1)
        owner = np.repeat(np.arange(len(self.classes_)), self.n_support_)[:, None]
        row = np.where(owner == i, j - 1, i)
        coef = svc._dual_coef_[row, np.arange(len(sv))[:, None]]
        self.pair_weights_ = np.where((owner == i) | (owner == j), coef, 0).astype(np.float32)
        self.intercept_ = svc._intercept_

    def pair_scores(self, X: np.ndarray) -> np.ndarray:
        """[N, pairs] scores of the one-against-one SVMs (pair (i, j) > 0 votes for i):
        libsvm's sums over the support vectors, for a whole batch in two matrix products."""
        return rbf_kernel(X, self.support_vectors_, self.gamma_) @ self.pair_weights_ + self.intercept_

    def _margins(self, scores: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Each image's smallest y * f(x) over the binary SVMs its class takes part in."""
        i, j = np.triu_indices(len(self.classes_), 1)
        label = np.searchsorted(self.classes_, y)[:, None]
        sign = (i == label).astype(np.float32) - (j == label)
        return np.where(sign != 0, sign * scores, np.inf).min(1)

    def predict(self, X: np.ndarray, batch: int = 2000) -> np.ndarray:
        """libsvm's one-against-one vote: each pair votes for one class; the most votes win."""
        i, j = np.triu_indices(len(self.classes_), 1)
        labels = []
        for lo in range(0, len(X), batch):
            scores = self.pair_scores(X[lo : lo + batch])
            votes = np.zeros((len(scores), len(self.classes_)), np.int64)
            np.add.at(votes, (np.arange(len(scores))[:, None], np.where(scores > 0, i, j)), 1)
            labels.append(self.classes_[votes.argmax(1)])
        return np.concatenate(labels)
