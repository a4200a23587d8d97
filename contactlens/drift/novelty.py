"""Contacts that fit no description: the rule, its tuning on training data, and clusters of the misfits.

A contact fits no description when its top confidence is low AND its embedding lies farther from the nearest
description centroid than that description's own contacts usually do. Both thresholds are chosen at training
time on the training data alone: every training contact is scored once as itself (a known contact, with
out-of-fold probabilities) and once as if its description did not exist (its own class removed from the
probabilities and renormalised, its own centroid removed), and the pair of thresholds that best separates the
two (Youden's J) is kept. The novel contacts of a window are then clustered; each cluster is described by
class-based TF-IDF keywords against the training vocabulary, a proposed name, and redacted examples.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from contactlens.drift.gaussian import (
    heldout_mahalanobis,
    heldout_mahalanobis_without_own,
    tied_gaussian,
)
from contactlens.drift.stats import ctfidf
from contactlens.text import tokens

NEIGHBOURS = 5000  # training embeddings kept (float16) for the encoder test's nearest neighbours
KNOWN_RATE = 0.15  # held-out known contacts allowed to fit no description (training's `novelty_known_rate`)
QUANTILES = (0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)
# Words that carry no topic in contact verbatims, on top of scikit-learn's English stop words.
_EXTRA_STOP = {
    "hi",
    "hello",
    "hey",
    "thanks",
    "thank",
    "dear",
    "regards",
    "please",
    "pls",
    "cust",
    "customer",
}
_EXTRA_STOP |= {"ok", "okay", "yes", "does", "did", "doing", "want", "wanted", "need", "needs", "got", "just"}
_EXTRA_STOP |= {"know", "like", "help", "tell", "able", "way", "really"}
# scikit-learn's list holds words that name what a contact is about: keep those.
_CONTENT = {"top", "bill", "call", "fire", "system", "empty", "full", "back", "front", "move", "part", "side"}
_CONTENT |= {"interest", "detail", "found", "find"}
STOP_WORDS = frozenset((ENGLISH_STOP_WORDS - _CONTENT) | _EXTRA_STOP)
_WORD = re.compile(r"^[a-z][a-z-]*[a-z]$")  # no contractions ("n't", "'ve") or numbers


def keyword_tokens(text: str) -> list[str]:
    """Content words and two-word phrases of a (redacted) text, for keyword statistics."""
    words = tokens(text)
    keep = [w if (_WORD.match(w) and w not in STOP_WORDS) else None for w in words]
    out = [w for w in keep if w]
    out += [f"{a} {b}" for a, b in zip(keep, keep[1:], strict=False) if a and b]
    return out


def term_counts(texts: list[str], limit: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """The `limit` most frequent keyword terms of a corpus and their counts (stored in the reference)."""
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(keyword_tokens(t))
    common = counts.most_common(limit)
    return np.array([t for t, _ in common], dtype=str), np.array([n for _, n in common], dtype=np.int64)


# ---------------------------------------------------------------------------------------------- the rule


def _loo_distances(
    embeddings: np.ndarray, y_idx: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine distance of every row to every class centroid, its own centroid computed without it."""
    sums = np.zeros((n_classes, embeddings.shape[1]))
    np.add.at(sums, y_idx, embeddings)
    centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    dist = 1.0 - embeddings @ centroids.T
    own = sums[y_idx] - embeddings
    own_norm = np.maximum(np.linalg.norm(own, axis=1), 1e-12)
    rows = np.arange(len(y_idx))
    dist[rows, y_idx] = 1.0 - np.sum(embeddings * own, axis=1) / own_norm
    return dist, centroids


def heldout_distances(
    embeddings: np.ndarray, y_idx: np.ndarray, n_classes: int, folds: list, bank_rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distances of every training contact as a new contact would see them: fitted on the other folds.

    Returns the cosine distance of each row to every description centroid computed on the other folds (inf
    for a description absent there), and to its nearest bank contact of the other folds, once among all of
    them (a known contact) and once among those of other descriptions (as if its own did not exist).
    Leave-one-out distances are too small: a contact's near-duplicates (one template, one customer) stay in.
    """
    n, dim = embeddings.shape
    dist = np.full((n, n_classes), np.inf, dtype=np.float32)
    nn_known, nn_novel = np.zeros(n), np.zeros(n)
    in_bank = np.zeros(n, dtype=bool)
    in_bank[bank_rows] = True
    x = embeddings.astype(np.float32)
    for train, test in folds:
        sums = np.zeros((n_classes, dim))
        np.add.at(sums, y_idx[train], x[train])
        norms = np.linalg.norm(sums, axis=1)
        centroids = (sums / np.maximum(norms, 1e-12)[:, None]).astype(np.float32)
        d = 1.0 - x[test] @ centroids.T
        d[:, norms == 0] = np.inf
        dist[test] = d
        bank = train[in_bank[train]]
        nn_known[test] = 1.0 - _nearest_similarity(x[test], x[bank])
        nn_novel[test] = 1.0 - _nearest_similarity(x[test], x[bank], None, y_idx[test], y_idx[bank])
    return dist, nn_known, nn_novel


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _features(
    confidence: np.ndarray,
    u_centroid: np.ndarray,
    u_neighbour: np.ndarray,
    gap: np.ndarray | None = None,
    u_mahalanobis: np.ndarray | None = None,
) -> np.ndarray:
    """The rule's inputs: the log-odds of the top confidence, the two distance percentiles and, for rules
    tuned since issue 13, the centroid gap (`centroid_gap`) and then the Mahalanobis percentile."""
    columns = [_logit(confidence), u_centroid, u_neighbour]
    extra = [c for c in (gap, u_mahalanobis) if c is not None]
    return np.column_stack([*columns, *extra])


@dataclass(frozen=True)
class Projection:
    """What `evidence` multiplies a contact by, as one matrix, so that a contact costs one product:
    [centroids.T | W @ means.T | W] for a rule with the Mahalanobis input (W the whitener, `gaussian`), the
    centroids alone otherwise. With z = x @ W, the squared Mahalanobis distance to mean m is
    |z|^2 - 2 x @ (W @ m) + |m|^2, as `gaussian.mahalanobis` computes it from z."""

    matrix: np.ndarray  # float32, 384 x (k or 2k + 384)
    k: int  # descriptions
    mean_norms: np.ndarray | None  # |m|^2 of each whitened mean; None without the Mahalanobis input

    @classmethod
    def build(cls, reference: dict[str, np.ndarray]) -> Projection:
        centroids = reference["centroids"].astype(np.float32)
        if "mahalanobis_whitener" not in reference:
            return cls(np.ascontiguousarray(centroids.T), len(centroids), None)
        w, means = reference["mahalanobis_whitener"], reference["mahalanobis_means"]
        matrix = np.hstack([centroids.T, w @ means.T, w]).astype(np.float32)
        return cls(np.ascontiguousarray(matrix), len(centroids), (means * means).sum(axis=1))

    def distances(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Each row's cosine distances to the centroids and, where kept, its squared Mahalanobis distance
        to the nearest description mean."""
        y = x @ self.matrix
        k = self.k
        if self.mean_norms is None:
            return 1.0 - y, None
        z = y[:, 2 * k :]
        nearest = (self.mean_norms[None, :] - 2.0 * y[:, k : 2 * k]).min(axis=1)
        return 1.0 - y[:, :k], np.maximum(np.einsum("ij,ij->i", z, z) + nearest, 0.0)


GAP_CAP = 1.0  # a gap beyond any real one, for a row with a single finite centroid distance


def centroid_gap(dist: np.ndarray) -> np.ndarray:
    """How much nearer a contact is to its nearest description centroid than to the second nearest.

    A fourth input of the rule since issue 13 (held-out AUC 0.926 to 0.931 on BANKING77): at a given
    confidence and distance, a small gap says the doubt is between two close descriptions (a confusion of
    known ones), a large one that the contact is near none in particular.
    """
    if dist.shape[1] < 2:
        return np.full(len(dist), GAP_CAP)
    two = np.partition(dist, 1, axis=1)[:, :2]
    return np.minimum(two[:, 1] - two[:, 0], GAP_CAP)


def tune_rule(
    embeddings: np.ndarray,
    y_idx: np.ndarray,
    oof: np.ndarray,
    folds: list | None = None,
    seed: int = 0,
    neighbours: int = NEIGHBOURS,
    known_rate: float = KNOWN_RATE,
    mahalanobis: bool = False,
    exact_novel_role: bool = True,
) -> dict[str, np.ndarray]:
    """The per-contact "fits no description" score and rule, tuned on held-out training contacts.

    Every training contact is scored twice, always as a contact the model did not see: as itself (a known
    contact: out-of-fold probabilities, distances to the centroids and bank contacts of the other folds),
    and as if its description did not exist (its class removed from the probabilities and renormalised, its
    description's centroid and contacts removed). A logistic regression on four numbers (the log-odds of
    the top confidence, the percentiles of the distances to the nearest centroid and nearest training
    contact, and the gap between the nearest two centroids, `centroid_gap`) separates the two roles; a
    contact fits no description when its score is at least the one that `known_rate` of known contacts
    reach. Also stored: what the window-level tests need (percentile tables,
    likelihood-ratio tables with their means with and without novelty, chance cluster sizes).

    Args:
        embeddings: L2-normalised training embeddings.
        y_idx: class index of each row.
        oof: out-of-fold class probabilities of each row (from the same `folds`).
        folds: the (train, test) folds of the out-of-fold probabilities; None: 3 plain folds.
        seed: for the random windows of the cluster-size null and the neighbour bank.
        neighbours: the most training embeddings kept as the bank of the nearest-neighbour distance.
        known_rate: the share of held-out known contacts allowed to fit no description.
        mahalanobis: True: a fifth input, the percentile of the Mahalanobis distance to the nearest
            description mean under a tied covariance (`gaussian`), with its arrays stored. Off by default
            since its measured gain came from an inexact novel role and vanished with the exact one
            (`docs/novelty-issue13.md`); kept for comparisons (`benchmarks/novelty_second_sets.py`).
        exact_novel_role: with `mahalanobis`, True: the Mahalanobis input of the "as if its description did
            not exist" role under the fold's tied covariance refitted without that description
            (`gaussian.heldout_mahalanobis_without_own`); False: under the fold's covariance with it, the
            own description's mean only masked (inexact: the covariance keeps its spread).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold

    n, k = oof.shape
    rng = np.random.default_rng(seed)
    bank_rows = np.sort(rng.permutation(n)[: min(neighbours, n)])
    if folds is None:
        folds = list(KFold(3, shuffle=True, random_state=seed).split(embeddings))
    dist, nn_known, nn_novel = heldout_distances(embeddings, y_idx, k, folds, bank_rows)
    rows = np.arange(n)
    own_dist = dist[rows, y_idx]
    conf_known, near_known = oof.max(axis=1), dist.argmin(axis=1)
    p_rest = oof.copy()
    p_rest[rows, y_idx] = 0.0
    conf_novel = p_rest.max(axis=1) / np.maximum(p_rest.sum(axis=1), 1e-12)
    d_rest = dist.copy()
    d_rest[rows, y_idx] = np.inf
    near_novel = d_rest.argmin(axis=1)
    d_known, d_novel = dist[rows, near_known], d_rest[rows, near_novel]
    g_known, g_novel = np.nan_to_num(centroid_gap(dist)), np.nan_to_num(centroid_gap(d_rest))
    ok = np.isfinite(d_known) & np.isfinite(d_novel) & np.isfinite(own_dist)
    by_class = [own_dist[(y_idx == c) & ok] for c in range(k)]
    by_class = [d if len(d) else own_dist[ok] for d in by_class]
    quantiles = np.stack([np.quantile(d, PERCENTILE_GRID) for d in by_class]).astype(np.float32)
    u_known = distance_percentile(d_known, near_known, quantiles)
    u_novel = distance_percentile(d_novel, near_novel, quantiles)
    nn_quantiles = np.quantile(nn_known[ok], NN_GRID).astype(np.float32)
    v_known, v_novel = np.interp(nn_known, nn_quantiles, NN_GRID), np.interp(nn_novel, nn_quantiles, NN_GRID)
    gaussian: dict[str, np.ndarray] = {}
    w_known = w_novel = None
    if mahalanobis:
        maha = heldout_mahalanobis(embeddings, y_idx, k, folds)
        if exact_novel_role:
            m_rest = heldout_mahalanobis_without_own(embeddings, y_idx, k, folds)
        else:
            m_rest = maha.copy()
            m_rest[rows, y_idx] = np.inf
        m_quantiles = np.quantile(maha[rows, y_idx][ok], NN_GRID).astype(np.float32)
        w_known = np.interp(maha.min(axis=1), m_quantiles, NN_GRID)
        w_novel = np.interp(m_rest.min(axis=1), m_quantiles, NN_GRID)
        whitener, means = tied_gaussian(embeddings, y_idx, k)
        gaussian = {
            "mahalanobis_whitener": whitener,
            "mahalanobis_means": means,
            "mahalanobis_quantiles": m_quantiles,
        }
    f_known = _features(conf_known, u_known, v_known, g_known, w_known)
    f_novel = _features(conf_novel, u_novel, v_novel, g_novel, w_novel)
    x = np.vstack([f_known[ok], f_novel[ok]])
    target = np.r_[np.zeros(int(ok.sum())), np.ones(int(ok.sum()))]
    clf = LogisticRegression(C=1.0, max_iter=1000).fit(x, target)
    coef, intercept = clf.coef_[0], float(clf.intercept_[0])
    s_known = _sigmoid(f_known @ coef + intercept)
    s_novel = _sigmoid(f_novel @ coef + intercept)
    cut = float(np.quantile(s_known[ok], 1.0 - known_rate))
    flags = s_known >= cut
    f0 = np.histogram(u_known[ok], LLR_BINS)[0] + 1.0
    f1 = np.histogram(u_novel[ok], LLR_BINS)[0] + 1.0
    llr = np.log(1 - LLR_EPS + LLR_EPS * (f1 / f1.sum()) / (f0 / f0.sum()))
    h0 = llr[_bin(u_known[ok])]
    encoder = encoder_reference(u_known[ok], u_novel[ok], v_known[ok], v_novel[ok])
    wording, wording_similarity = fresh_wording_share(
        embeddings,
        y_idx,
        bank_rows,
        {**encoder, "distance_quantiles": quantiles, "neighbour_quantiles": nn_quantiles},
        len(folds),
        seed,
    )
    return {
        **encoder,
        "fresh_wording_share": np.array([wording]),
        "fresh_wording_similarity": np.array([wording_similarity]),
        "neighbour_bank": embeddings[bank_rows].astype(np.float16),
        "neighbour_quantiles": nn_quantiles,
        **gaussian,
        "novelty_coef": np.r_[coef, intercept].astype(np.float64),
        "novelty_cut": np.array([cut]),
        "novelty_confidence": np.array([float(np.quantile(conf_known[flags], 0.9)) if flags.any() else 0.0]),
        "novelty_distance": np.array([np.quantile(d, 0.5) for d in by_class], dtype=np.float32),
        "novelty_rate": np.array([float(flags[ok].mean())]),
        "novelty_recall": np.array([float((s_novel[ok] >= cut).mean())]),
        "heldout_flags": flags,
        "distance_quantiles": quantiles,
        "distance_llr": llr,
        "distance_llr_null": np.array([h0.mean(), h0.std()]),
        "cluster_null": cluster_null(embeddings, flags, cluster_threshold(embeddings, y_idx, k), seed),
    }


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


# The window-level distance test: a contact's distance to its nearest centroid as a percentile of that
# description's own (leave-one-out) distances is uniform for known contacts, whatever the model's confidence.
PERCENTILE_GRID = np.linspace(0.0, 1.0, 21)
LLR_BINS = np.linspace(0.0, 1.0, 21)
LLR_EPS = 0.1  # the share of novel contacts the likelihood ratio is tuned to detect


def _bin(u: np.ndarray) -> np.ndarray:
    return np.clip(np.digitize(u, LLR_BINS) - 1, 0, len(LLR_BINS) - 2)


def distance_percentile(d: np.ndarray, nearest: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Where each distance falls among its nearest description's leave-one-out distances (0 to 1)."""
    if len(d) == 1:  # the typing path's one contact
        return np.interp(d, quantiles[nearest[0]], PERCENTILE_GRID)
    out = np.zeros(len(d))
    for c in np.unique(nearest):
        mask = nearest == c
        out[mask] = np.interp(d[mask], quantiles[c], PERCENTILE_GRID)
    return out


def distance_test(d: np.ndarray, nearest: np.ndarray, reference: dict[str, np.ndarray]) -> dict[str, float]:
    """One-sided test that a window holds contacts farther from the descriptions than known contacts are.

    The statistic sums the log likelihood ratio of each contact's distance percentile (novel against known,
    as simulated on training data); its mean and spread under no novelty come from the training contacts.
    """
    u = distance_percentile(d, nearest, reference["distance_quantiles"])
    h = reference["distance_llr"][_bin(u)]
    mean, sd = reference["distance_llr_null"]
    z = float((h.sum() - len(h) * mean) / (np.sqrt(len(h)) * max(sd, 1e-9)))
    return {
        "z": round(z, 3),
        "p_value": float(stats.norm.sf(z)),
        "mean_percentile": round(float(u.mean()), 4),
    }


# The window-level encoder test: two distances that depend on the encoder alone (not on the classifier's
# confidence, which is higher on new contacts than out of fold, so that a confidence-based reference would
# make the test conservative): the distance to the nearest training contact in a bank of them, as a
# percentile of leave-one-out distances, and the distance percentile to the nearest centroid above.
NN_GRID = np.linspace(0.0, 1.0, 101)
ENC_BINS = 20  # bins per distance percentile, fewer on small training sets (see `_encoder_bins`)


def _nearest_similarity(
    x: np.ndarray,
    bank: np.ndarray,
    own_row: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    bank_labels: np.ndarray | None = None,
) -> np.ndarray:
    """Each row's largest cosine similarity to the bank, in chunks.

    Skipped: bank row `own_row[i]` for row i (itself; -1 for none), and with `labels`, the bank rows of
    row i's own description.
    """
    out = np.empty(len(x))
    cols = np.arange(len(bank))
    for start in range(0, len(x), 1024):
        stop = min(start + 1024, len(x))
        sim = x[start:stop] @ bank.T
        if own_row is not None:
            sim[own_row[start:stop, None] == cols[None, :]] = -np.inf
        if labels is not None and bank_labels is not None:
            sim[labels[start:stop, None] == bank_labels[None, :]] = -np.inf
        out[start:stop] = sim.max(axis=1)
    return out


def encoder_reference(
    u_known: np.ndarray, u_novel: np.ndarray, v_known: np.ndarray, v_novel: np.ndarray
) -> dict[str, np.ndarray]:
    """The likelihood-ratio table of the encoder test (see `encoder_test`) and its mean with and without
    novelty.

    `u_*` are the centroid distance percentiles and `v_*` the nearest-neighbour distance percentiles of the
    held-out training contacts, as known contacts and as if their description did not exist.
    """
    bins = _encoder_bins(len(u_known))
    cell_known = _encoder_cell(v_known, u_known, bins)
    cell_novel = _encoder_cell(v_novel, u_novel, bins)
    cells = bins * bins
    f0 = np.bincount(cell_known, minlength=cells) + 0.5
    f1 = np.bincount(cell_novel, minlength=cells) + 0.5
    llr = np.log(1 - LLR_EPS + LLR_EPS * (f1 / f1.sum()) / (f0 / f0.sum()))
    h0, h1 = llr[cell_known], llr[cell_novel]
    return {
        "encoder_llr": llr.astype(np.float64),
        "encoder_llr_null": np.array([h0.mean(), h0.std()]),
        "encoder_llr_novel_mean": np.array([h1.mean()]),
    }


def _encoder_bins(n: int) -> int:
    """Bins per percentile: about 15 training contacts per cell of the table, so that the contacts it was
    built from score like new ones (a sparse table fits its own rows, and the null mean would drift)."""
    return int(np.clip(np.sqrt(n / 15), 3, ENC_BINS))


def _encoder_cell(u_neighbour: np.ndarray, u_centroid: np.ndarray, bins: int) -> np.ndarray:
    edges = np.linspace(0.0, 1.0, bins + 1)
    a = np.clip(np.digitize(u_neighbour, edges) - 1, 0, bins - 1)
    b = np.clip(np.digitize(u_centroid, edges) - 1, 0, bins - 1)
    return a * bins + b


# The serving path's nearest-neighbour input searches only the bank contacts of the few descriptions whose
# centroids are nearest the contact (an inverted-file index, as FAISS's IVF: the bank is partitioned by each
# contact's nearest centroid once per loaded reference). Read whole, the 5,000-row bank is 7.7 MB, which the
# encoder run just before evicts from the CPU's cache: 0.87 ms a contact, memory-bound. A contact's nearest
# training contact lies in one of its nearest descriptions' partitions almost always, and where it does not
# the distance found is larger, never smaller (a contact only looks more novel).
NEIGHBOUR_PROBES = 8  # partitions searched per contact; every one when the taxonomy has no more descriptions
_SMALL_BATCH = 16  # up to this many contacts: one product per probed partition; more: one masked product


@dataclass(frozen=True)
class BankIndex:
    """The neighbour bank as float32, its rows grouped by their nearest description centroid."""

    rows: np.ndarray  # float32, grouped by partition
    partition: np.ndarray  # partition (centroid index) of each row
    starts: np.ndarray  # rows of partition c: starts[c]:starts[c + 1]
    bounds: tuple[tuple[int, int], ...]  # the same as Python ints, (start, stop) per partition

    @classmethod
    def build(cls, bank: np.ndarray, centroids: np.ndarray) -> BankIndex:
        rows = bank.astype(np.float32)
        part = (rows @ centroids.astype(np.float32).T).argmax(axis=1)
        order = np.argsort(part, kind="stable")
        starts = np.searchsorted(part[order], np.arange(len(centroids) + 1))
        bounds = tuple(zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True))
        return cls(np.ascontiguousarray(rows[order]), part[order], starts, bounds)

    def nearest_similarity(self, x: np.ndarray, dist: np.ndarray, probes: int | None = None) -> np.ndarray:
        """Each row's largest cosine similarity to the bank rows in the partitions of its `probes` nearest
        centroids (`dist`: its cosine distances to every centroid; None: `NEIGHBOUR_PROBES`); the whole bank
        where a row's probed partitions are empty, or when `probes` covers every centroid."""
        k = dist.shape[1]
        probes = max(1, NEIGHBOUR_PROBES if probes is None else probes)
        if probes >= k:
            return _nearest_similarity(x, self.rows)
        probed = np.argpartition(dist, probes - 1, axis=1)[:, :probes]
        if len(x) <= _SMALL_BATCH:  # the typing path: few numpy calls, each paid cold after an encoder run
            out = np.empty(len(x))
            for i, row in enumerate(x):
                best = -np.inf
                for c in probed[i].tolist():
                    start, stop = self.bounds[c]
                    if stop > start:
                        best = max(best, float((self.rows[start:stop] @ row).max()))
                out[i] = best
        else:
            member = np.zeros((len(x), k), dtype=bool)
            member[np.arange(len(x))[:, None], probed] = True
            out = np.empty(len(x))
            for start in range(0, len(x), 1024):
                stop = min(start + 1024, len(x))
                sim = x[start:stop] @ self.rows.T
                sim[~member[start:stop][:, self.partition]] = -np.inf
                out[start:stop] = sim.max(axis=1)
        empty = ~np.isfinite(out)
        if empty.any():
            out[empty] = _nearest_similarity(x[empty], self.rows)
        return out


_DERIVED: dict[tuple[Any, ...], tuple[list[np.ndarray], Any]] = {}
_DERIVED_MAX = 8  # entries kept: two per loaded model (bank index, projection), a few models at once


def _derived(reference: dict[str, np.ndarray], keys: tuple[str, ...], build: Any) -> Any:
    """`build(reference)`, computed once per loaded reference: cached on the identity of the arrays that
    `reference` holds under `keys` (those it has)."""
    arrays = [reference[k] for k in keys if k in reference]
    key = (build, *(id(a) for a in arrays))
    cached = _DERIVED.get(key)
    if cached is None or any(a is not b for a, b in zip(cached[0], arrays, strict=True)):
        cached = (arrays, build(reference))
        _DERIVED[key] = cached  # holds the arrays, so their ids are not reused while cached
        while len(_DERIVED) > _DERIVED_MAX:  # models reloaded (a new champion): drop the oldest
            del _DERIVED[next(iter(_DERIVED))]
    return cached[1]


def bank_index(reference: dict[str, np.ndarray]) -> BankIndex:
    """The neighbour bank's index, built once per loaded reference (the bank is stored as float16)."""
    return _derived(reference, ("neighbour_bank", "centroids"), _build_bank_index)


def _build_bank_index(reference: dict[str, np.ndarray]) -> BankIndex:
    return BankIndex.build(reference["neighbour_bank"], reference["centroids"])


@dataclass
class Evidence:
    """Per contact: the nearest description centroid, the distances and the "fits no description" rule."""

    nearest: np.ndarray  # index of the nearest centroid
    distance: np.ndarray  # cosine distance to it
    centroid_percentile: np.ndarray  # that distance among its description's held-out distances (0-1)
    neighbour_percentile: np.ndarray | None  # distance to the nearest bank contact, likewise
    score: np.ndarray  # the novelty score (0-1); the confidence alone for references without one
    fits_none: np.ndarray  # bool: fits no description


def evidence(embeddings: np.ndarray, confidence: np.ndarray, reference: dict[str, np.ndarray]) -> Evidence:
    """The novelty evidence of scored contacts, from embeddings the model already has: products with the
    centroids, the probed partitions of the neighbour bank (`BankIndex`) and the Mahalanobis whitener.

    References written before the held-out rule fall back to the older two-threshold rule (confidence low
    and distance to the nearest centroid high), or to the 95th-percentile spreads with no tuned rule.
    """
    x = embeddings.astype(np.float32, copy=False)
    keys = ("centroids", "mahalanobis_whitener", "mahalanobis_means")
    projection = _derived(reference, keys, Projection.build)
    if len(x) == 1 and projection.mean_norms is None and _scalar_rule(reference):
        return _evidence_one(x, confidence, reference, projection)
    dist, maha = projection.distances(x)
    nearest = dist.argmin(axis=1)
    d = dist[np.arange(len(nearest)), nearest]
    u_c = (
        distance_percentile(d, nearest, reference["distance_quantiles"])
        if "distance_quantiles" in reference
        else np.zeros(len(d))
    )
    if "novelty_coef" in reference:
        v = np.interp(
            1.0 - bank_index(reference).nearest_similarity(x, dist), reference["neighbour_quantiles"], NN_GRID
        )
        coef = reference["novelty_coef"]
        # Rules tuned before issue 13 read 3 features, since then 4 (the centroid gap); 5 with the optional
        # Mahalanobis input (`tune_rule(mahalanobis=True)`).
        gap = centroid_gap(dist) if len(coef) >= 5 else None
        u_m = None
        if len(coef) >= 6 and maha is not None:
            u_m = np.interp(maha, reference["mahalanobis_quantiles"], NN_GRID)
        score = _sigmoid(_features(confidence, u_c, v, gap, u_m) @ coef[:-1] + coef[-1])
        return Evidence(nearest, d, u_c, v, score, score >= float(reference["novelty_cut"][0]))
    if "novelty_distance" in reference:
        t, theta = float(reference["novelty_confidence"][0]), reference["novelty_distance"]
    else:
        t, theta = float(reference.get("review_threshold", [0.5])[0]), reference["spreads"][:, 1]
    return Evidence(nearest, d, u_c, None, 1.0 - confidence, (confidence < t) & (d > theta[nearest]))


def _scalar_rule(reference: dict[str, np.ndarray]) -> bool:
    """Whether `_evidence_one` can score for this reference: a tuned rule of 3 or 4 inputs."""
    return (
        "novelty_coef" in reference
        and "distance_quantiles" in reference
        and len(reference["novelty_coef"]) in (4, 5)
    )


def _evidence_one(
    x: np.ndarray, confidence: np.ndarray, reference: dict[str, np.ndarray], projection: Projection
) -> Evidence:
    """`evidence` for the typing path's one contact, in Python floats where numpy would spend more on
    calling than on computing (a suggest pays this right after an encoder run, when every numpy call costs
    several times its warm time): the same products and bank search, the percentiles and the rule's
    linear form in floats. Same inputs, same rule, same decisions as the batch path (tested)."""
    dist = 1.0 - (x[0] @ projection.matrix)
    nearest = int(dist.argmin())
    d = float(dist[nearest])
    u_c = float(np.interp(d, reference["distance_quantiles"][nearest], PERCENTILE_GRID))
    best = float(bank_index(reference).nearest_similarity(x, dist[None])[0])
    v = float(np.interp(1.0 - best, reference["neighbour_quantiles"], NN_GRID))
    coef = reference["novelty_coef"].tolist()
    z = float(_logit(confidence)[0]) * coef[0] + u_c * coef[1] + v * coef[2]
    if len(coef) >= 5:
        z += float(centroid_gap(dist[None])[0]) * coef[3]
    score = 1.0 / (1.0 + math.exp(-(z + coef[-1])))
    return Evidence(
        np.array([nearest]),
        np.array([d]),
        np.array([u_c]),
        np.array([v]),
        np.array([score]),
        np.array([score >= float(reference["novelty_cut"][0])]),
    )


def encoder_test(embeddings: np.ndarray, ev: Evidence, reference: dict[str, np.ndarray]) -> dict[str, Any]:
    """One-sided test that a window holds contacts farther from the known ones than known contacts are.

    Each contact gets two percentiles among held-out training distances: of its distance to the nearest
    training contact in the stored bank, and of its distance to the nearest description centroid. The
    statistic sums the log likelihood ratio of the pair (novel against known, as simulated on held-out
    training contacts with their own description removed, tuned to a window with `LLR_EPS` novel contacts);
    its mean and spread under no novelty come from the held-out training contacts, so the z-score is
    standard normal on a window of known contacts whatever the classifier's confidence does.

    The effect size, `novel_share_estimate`, reads the mean log likelihood ratio as a share of novel
    contacts: 0 at the known contacts' mean, 1 at the simulated novel contacts' mean.
    """
    if ev.neighbour_percentile is not None:
        u_nn = ev.neighbour_percentile
    else:  # a reference written before the held-out rule
        bank = reference["neighbour_bank"].astype(np.float32)
        u_nn = np.interp(
            1.0 - _nearest_similarity(embeddings.astype(np.float32), bank),
            reference["neighbour_quantiles"],
            NN_GRID,
        )
    u_c = ev.centroid_percentile
    llr = reference["encoder_llr"]
    h = llr[_encoder_cell(u_nn, u_c, int(round(np.sqrt(len(llr)))))]
    mean, sd = reference["encoder_llr_null"]
    z = float((h.sum() - len(h) * mean) / (np.sqrt(len(h)) * max(sd, 1e-9)))
    out = {
        "method": "nearest training contact and nearest centroid, likelihood ratio",
        "z": round(z, 3),
        "p_value": float(stats.norm.sf(z)),
        "mean_percentile": round(float(u_nn.mean()), 4),
        "mean_centroid_percentile": round(float(u_c.mean()), 4),
    }
    if "encoder_llr_novel_mean" in reference:
        span = float(reference["encoder_llr_novel_mean"][0]) - mean
        out["novel_share_estimate"] = round(float((h.mean() - mean) / span), 4) if span > 0 else None
    return out


# Fresh wording: how far new phrasings of known descriptions move the encoder test, simulated at training
# time by holding out whole phrasing clusters (average-linkage groups of similar contacts), not single ones.
WORDING_SIMILARITIES = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
WORDING_MAX_ROWS = 8000  # rows clustered (pairwise distances); the rest join the group of their nearest row


def phrasing_groups(
    embeddings: np.ndarray, y_idx: np.ndarray, seed: int = 0, n_folds: int = 5
) -> tuple[np.ndarray, float]:
    """Groups of contacts worded alike: average-linkage clusters at the lowest cosine similarity of
    `WORDING_SIMILARITIES` whose largest group holds at most the median description's contacts and at which
    the median description is said in at least `n_folds` ways (else a group is the description itself).

    Average linkage (not single) keeps a group to one way of saying one thing: chains of paraphrases do
    not merge whole descriptions. Above `WORDING_MAX_ROWS` a seeded sample is clustered and every other row
    joins the group of its most similar sampled row.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    n = len(embeddings)
    x = embeddings.astype(np.float32)
    rows = np.sort(np.random.default_rng(seed).permutation(n)[: min(n, WORDING_MAX_ROWS)])
    tree = linkage(pdist(x[rows].astype(np.float64), "cosine"), method="average")
    sizes = np.bincount(y_idx)
    limit = max(3, int(np.median(sizes[sizes > 0])))
    chosen, groups = WORDING_SIMILARITIES[-1], fcluster(tree, 1.0 - WORDING_SIMILARITIES[-1], "distance")
    for similarity in WORDING_SIMILARITIES:
        g = fcluster(tree, 1.0 - similarity, criterion="distance")
        ways = [len(np.unique(g[y_idx[rows] == c])) for c in np.unique(y_idx[rows])]
        if np.bincount(g).max() <= limit and np.median(ways) >= n_folds:
            chosen, groups = similarity, g
            break
    out = np.empty(n, dtype=np.int64)
    out[rows] = groups
    rest = np.setdiff1d(np.arange(n), rows)
    for start in range(0, len(rest), 1024):
        part = rest[start : start + 1024]
        out[part] = groups[(x[part] @ x[rows].T).argmax(axis=1)]
    return out, chosen


def fresh_wording_share(
    embeddings: np.ndarray,
    y_idx: np.ndarray,
    bank_rows: np.ndarray,
    reference: dict[str, np.ndarray],
    n_folds: int = 5,
    seed: int = 0,
) -> tuple[float, float]:
    """The encoder test's `novel_share_estimate` for a month of new phrasings of known descriptions.

    Every training contact is held out with its whole phrasing group (`phrasing_groups`) and read against
    the reference's percentile and likelihood-ratio tables, as a window's contacts are. Returns the share
    estimate (<= 0 when held-out single contacts are already as far as new phrasings) and the similarity of
    the grouping.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    groups, similarity = phrasing_groups(embeddings, y_idx, seed, n_folds)
    k = int(y_idx.max()) + 1
    n_splits = int(max(2, min(n_folds, len(np.unique(groups)))))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class")
        splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
        folds = list(splitter.split(embeddings, y_idx, groups))
    dist, nn_known, _ = heldout_distances(embeddings, y_idx, k, folds, bank_rows)
    nearest = dist.argmin(axis=1)
    d = dist[np.arange(len(nearest)), nearest]
    ok = np.isfinite(dist[np.arange(len(nearest)), y_idx])  # its description is in the other folds: known
    if not ok.any():
        return 0.0, similarity
    u_c = distance_percentile(d[ok], nearest[ok], reference["distance_quantiles"])
    v = np.interp(nn_known[ok], reference["neighbour_quantiles"], NN_GRID)
    llr = reference["encoder_llr"]
    h = llr[_encoder_cell(v, u_c, int(round(np.sqrt(len(llr)))))]
    mean = float(reference["encoder_llr_null"][0])
    span = float(reference["encoder_llr_novel_mean"][0]) - mean
    return (float((h.mean() - mean) / span) if span > 0 else 0.0), similarity


NULL_SIZES = (250, 500, 1000, 2000, 4000, 8000)


def cluster_null(
    embeddings: np.ndarray, flags: np.ndarray, threshold: float, seed: int = 0, reps: int = 20
) -> np.ndarray:
    """The largest cluster of flagged known contacts in random training windows of several sizes.

    Returns rows of (window size, largest cluster over `reps` windows): a cluster of novel contacts in a
    window must be larger than chance gives known ones to be reported.
    """
    rng = np.random.default_rng(seed)
    n = len(flags)
    sizes = [s for s in NULL_SIZES if s <= n] or [n]
    out = []
    for s in sizes:
        largest = 0
        for _ in range(reps):
            idx = rng.choice(n, size=s, replace=False)
            picked = embeddings[idx][flags[idx]]
            if len(picked):
                largest = max(largest, int(np.bincount(cluster(picked, threshold)).max()))
        out.append((s, largest))
    return np.array(out, dtype=np.float64)


def min_cluster_size(reference: dict[str, np.ndarray], n: int) -> int:
    """The smallest cluster worth reporting in a window of n: above chance (interpolated), at least 5."""
    if "cluster_null" not in reference:
        return max(8, int(np.ceil(0.005 * n)))
    sizes, largest = reference["cluster_null"][:, 0], reference["cluster_null"][:, 1]
    # Beyond the sizes simulated, chance clusters grow about linearly with the window.
    beyond = n > sizes[-1]
    chance = largest[-1] * n / sizes[-1] if beyond else float(np.interp(np.log(n), np.log(sizes), largest))
    return max(5, int(np.floor(chance)) + 1)


def cluster_threshold(embeddings: np.ndarray, y_idx: np.ndarray, n_classes: int) -> float:
    """The median over descriptions of the mean pairwise cosine distance between two of its contacts.

    Novel contacts are clustered with average linkage up to this distance: a new description should be about
    as tight as an existing one.
    """
    out = []
    for c in range(n_classes):
        e = embeddings[y_idx == c]
        if len(e) >= 2:
            s = e.sum(axis=0)
            out.append(1.0 - (s @ s - np.sum(e * e)) / (len(e) * (len(e) - 1)))
    return float(np.median(out)) if out else 0.5


def misfits(
    embeddings: np.ndarray, confidence: np.ndarray, reference: dict[str, np.ndarray], review_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which contacts fit no description, with their nearest centroid and distance to it (see `evidence`)."""
    ev = evidence(embeddings, confidence, {"review_threshold": np.array([review_threshold]), **reference})
    return ev.fits_none, ev.nearest, ev.distance


def reference_misfit_rate(reference: dict[str, np.ndarray], review_threshold: float) -> float:
    """The share of known contacts the rule flags: tuned at training, else measured on the stored sample."""
    if "novelty_rate" in reference:
        return float(reference["novelty_rate"][0])
    flags, _, _ = misfits(
        reference["sample_embeddings"], reference["sample_confidence"], reference, review_threshold
    )
    return float(flags.mean())


# ---------------------------------------------------------------------------------------------- clusters


def cluster(embeddings: np.ndarray, threshold: float) -> np.ndarray:
    """Average-linkage clusters on cosine distance, merged up to `threshold`; labels 0..m-1 by size."""
    if len(embeddings) < 2:
        return np.zeros(len(embeddings), dtype=int)
    model = AgglomerativeClustering(
        n_clusters=None, distance_threshold=threshold, metric="cosine", linkage="average"
    )
    labels = model.fit_predict(embeddings)
    order = {lab: i for i, (lab, _) in enumerate(Counter(labels).most_common())}
    return np.array([order[lab] for lab in labels])


def propose_name(keywords: list[str]) -> str:
    """A short name from the top keywords: the best phrase, then the next one that adds new words."""
    if not keywords:
        return "Unnamed kind of contact"
    first = keywords[0]
    # Prefer a two-word phrase that contains the top word.
    for kw in keywords[1:5]:
        if " " in kw and first in kw.split() and " " not in first:
            first = kw
            break
    used = set(first.split())
    second = next((kw for kw in keywords if not set(kw.split()) & used), "")
    name = f"{first} / {second}" if second else first
    return name[:1].upper() + name[1:]


def slug(name: str) -> str:
    return "new_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:48]


def distinct(order: np.ndarray, texts: list[str], n: int) -> list[int]:
    """The first n rows of `order` whose texts differ (repeated contacts make poor examples)."""
    seen: set[str] = set()
    out = []
    for i in order:
        if texts[i] not in seen:
            seen.add(texts[i])
            out.append(int(i))
        if len(out) == n:
            break
    return out


def describe_clusters(
    embeddings: np.ndarray,
    texts: list[str],
    labels: np.ndarray,
    min_size: int,
    reference_terms: Counter[str] | None,
    n_examples: int = 5,
) -> list[dict[str, Any]]:
    """Clusters of at least `min_size`: members, keywords, proposed name, the examples nearest the centre."""
    sizes = Counter(labels.tolist())
    kept = [lab for lab, n in sorted(sizes.items(), key=lambda kv: -kv[1]) if n >= min_size]
    if not kept:
        return []
    member_idx = [np.nonzero(labels == lab)[0] for lab in kept]
    bags = [[tok for i in idx for tok in keyword_tokens(texts[i])] for idx in member_idx]
    keywords = ctfidf(bags, reference_terms, top=8)
    out = []
    for idx, kws in zip(member_idx, keywords, strict=True):
        centre = embeddings[idx].mean(axis=0)
        centre /= max(np.linalg.norm(centre), 1e-12)
        closest = distinct(idx[np.argsort(1.0 - embeddings[idx] @ centre)], texts, n_examples)
        words = [w for w, _ in kws]
        name = propose_name(words)
        out.append(
            {
                "members": idx,
                "centre": centre,
                "size": len(idx),
                "keywords": words,
                "proposed_name": name,
                "proposed_id": slug(name),
                "examples": [texts[i] for i in closest],
                "cohesion": round(float(np.mean(embeddings[idx] @ centre)), 4),
            }
        )
    return out
