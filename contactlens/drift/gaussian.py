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
