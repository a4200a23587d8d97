"""Descriptions as Gaussians with one shared (tied) covariance: Mahalanobis distances for the novelty rule.

Cosine distances to centroids weigh every direction of the embedding alike; the Mahalanobis distance under
the covariance of contacts around their own description's mean weighs a direction by how little known
contacts vary along it (Podolskiy et al. 2021; Lee et al. 2018). The covariance is shrunk (Ledoit-Wolf): 384
dimensions, descriptions of a few dozen contacts. Serving costs one projection of the contact onto the
whitening matrix (a 384 x 384 matrix-vector product) and a product with the whitened means, precomputed.
"""

from __future__ import annotations

import numpy as np


def tied_gaussian(embeddings: np.ndarray, y_idx: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The whitening matrix W (W @ W.T is the inverse of the shared covariance) and the whitened means.

    `x @ W` is a contact in whitened space, where the squared Euclidean distance to a row of the whitened
    means is the squared Mahalanobis distance to that description's mean. A description without rows here
    gets a zero mean: callers that fit on part of the data mask it (`heldout_mahalanobis`).
    """
    from sklearn.covariance import LedoitWolf

    x = embeddings.astype(np.float64)
    counts = np.bincount(y_idx, minlength=n_classes)
    means = np.zeros((n_classes, x.shape[1]))
    np.add.at(means, y_idx, x)
    means /= np.maximum(counts, 1)[:, None]
    cov = LedoitWolf(assume_centered=True).fit(x - means[y_idx]).covariance_
    s, v = np.linalg.eigh(cov)
    whitener = v / np.sqrt(np.maximum(s, 1e-12))
    return whitener.astype(np.float32), (means @ whitener).astype(np.float32)


def mahalanobis(x: np.ndarray, whitener: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of each row of x to every description mean (whitened, `tied_gaussian`).

    One projection per contact (0.015 ms for 384 dimensions on one thread), then as many dot products as
    there are descriptions. (`novelty.Projection` computes the same in one product for serving.)
    """
    z = x.astype(np.float32, copy=False) @ whitener
    d = (z * z).sum(axis=1)[:, None] - 2.0 * (z @ means.T) + (means * means).sum(axis=1)[None, :]
    return np.maximum(d, 0.0)


def heldout_mahalanobis(embeddings: np.ndarray, y_idx: np.ndarray, n_classes: int, folds: list) -> np.ndarray:
    """Squared Mahalanobis distance of every training contact to every description mean, the Gaussians
    fitted on the other folds (as `novelty.heldout_distances` does for the centroids); inf for a
    description absent there."""
    out = np.full((len(embeddings), n_classes), np.inf)
    for train, test in folds:
        whitener, means = tied_gaussian(embeddings[train], y_idx[train], n_classes)
        present = np.bincount(y_idx[train], minlength=n_classes) > 0
        out[np.ix_(test, present)] = mahalanobis(embeddings[test], whitener, means[present])
    return out


def ledoit_wolf_from_moments(scatter: np.ndarray, n: int, fourth: float) -> tuple[np.ndarray, float]:
    """scikit-learn's `LedoitWolf(assume_centered=True)` covariance and shrinkage of rows X, from their
    moments only: the scatter X.T @ X, the number of rows n and the sum of their squared squared norms
    (sum of |x|^4). Both moments add over rows, so the estimate without some rows is a subtraction away
    (`heldout_mahalanobis_without_own`). The formula is `sklearn.covariance.ledoit_wolf_shrinkage`'s:
    its beta_ (the sum of the entries of X2.T @ X2, X2 = X**2) is the sum of |x|^4, its delta_ the squared
    Frobenius norm of the empirical covariance.
    """
    p = scatter.shape[0]
    emp = scatter / n
    trace = float(np.trace(emp))
    mu = trace / p
    delta_ = float(np.sum(emp * emp))
    beta = (fourth / n - delta_) / (p * n)
    delta = (delta_ - 2.0 * mu * trace + p * mu**2) / p
    beta = min(beta, delta)
    shrinkage = 0.0 if beta == 0 else beta / delta
    cov = (1.0 - shrinkage) * emp
    cov.flat[:: p + 1] += shrinkage * mu
    return cov, shrinkage


def heldout_mahalanobis_without_own(
    embeddings: np.ndarray, y_idx: np.ndarray, n_classes: int, folds: list
) -> np.ndarray:
    """`heldout_mahalanobis` for the "as if its description did not exist" role, exactly: the squared
    distance of every training contact to every OTHER description mean, under the tied Ledoit-Wolf
    covariance fitted on the other folds without the contact's own description (inf for its own
    description and for one absent there).

    The other descriptions' means do not depend on the one removed, nor do their rows' residuals, so the
    covariance without description c is the fold's scatter and fourth moment less c's rows'
    (`ledoit_wolf_from_moments`, the shrinkage recomputed, not kept): what refitting `tied_gaussian`
    without c gives, at the cost of one rank-n_c product and one Cholesky factorisation per description
    and fold instead of a Ledoit-Wolf fit and an eigendecomposition.
    """
    from scipy.linalg import cholesky, solve_triangular

    out = np.full((len(embeddings), n_classes), np.inf)
    for train, test in folds:
        x, y = embeddings[train].astype(np.float64), y_idx[train]
        counts = np.bincount(y, minlength=n_classes)
        means = np.zeros((n_classes, x.shape[1]))
        np.add.at(means, y, x)
        means /= np.maximum(counts, 1)[:, None]
        resid = x - means[y]
        scatter = resid.T @ resid
        fourth_rows = np.einsum("ij,ij->i", resid, resid) ** 2
        fourth = float(fourth_rows.sum())
        for c in np.unique(y_idx[test]):
            rows = test[y_idx[test] == c]
            others = (counts > 0) & (np.arange(n_classes) != c)
            if not others.any():
                continue
            own = y == c
            r_c = resid[own]
            cov, _ = ledoit_wolf_from_moments(
                scatter - r_c.T @ r_c, len(y) - int(own.sum()), fourth - float(fourth_rows[own].sum())
            )
            chol = cholesky(cov, lower=True, check_finite=False)
            z = solve_triangular(chol, embeddings[rows].astype(np.float64).T, lower=True, check_finite=False)
            m = solve_triangular(chol, means[others].T, lower=True, check_finite=False)
            d = (z * z).sum(axis=0)[:, None] - 2.0 * (z.T @ m) + (m * m).sum(axis=0)[None, :]
            out[np.ix_(rows, np.flatnonzero(others))] = np.maximum(d, 0.0)
    return out
