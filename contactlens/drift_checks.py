"""The drift checks over one window of scored contacts, each returning the JSON section of the report.

Every check compares the window with the reference the model stored at training time. Each family of tests
is run at level `alpha` (tests over many descriptions are corrected with Benjamini-Hochberg), and a finding
also needs a material effect size, so that large windows do not flag trivial changes.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from contactlens import drift_stats as ds
from contactlens import novelty
from contactlens.model import needs_review
from contactlens.taxonomy import Taxonomy


@dataclass
class DriftConfig:
    """Levels and sizes of the drift checks (the defaults are what the benchmark measured)."""

    alpha: float = 0.01  # per family of tests: input, mix, confidence, novelty, unused
    min_window: int = 100
    max_contacts: int = 20000  # larger windows are sampled (scoring is the slow part)
    max_reference: int = 1000  # rows of each side given to the two-sample tests
    max_window: int = 1000
    classifier_permutations: int = 25
    mmd_permutations: int = 200
    min_ratio: float = 1.5  # a share must change by at least this factor to count as mix drift
    mix_simulations: int = 2000  # reference windows simulated for the global test of growing shares
    novelty_rate_share: float = 0.25  # of the novelty level: the rest goes to the encoder distance test
    min_rate_increase: float = 0.02  # and a rate (needing review, fitting no description) by 2 points
    # Minimum effects (besides significance): what a window must show for a check to fire, so that large
    # windows and fresh wording of known descriptions do not fire on trivial differences.
    min_review_increase: float = 0.05  # review rate: up by 5 points and half the reference rate, at least
    min_novel_share: float = 0.03  # encoder distance test: its evidence read as a share of novel contacts
    min_auc: float = 0.65  # domain classifier: ROC AUC telling window from reference contacts
    min_mmd2: float = 0.01  # MMD^2 (RBF kernel, median bandwidth) between window and reference
    min_cluster_size: int | None = None  # None: above the chance sizes stored in the reference
    split_min_contacts: int = 40
    split_margin: float = 0.05
    min_corrections: int = 5
    min_correction_rate: float = 0.2
    model_confusion_rate: float = 0.1
    seed: int = 0


@dataclass
class Window:
    """One window of scored contacts and what the model knows about its descriptions."""

    embeddings: np.ndarray
    confidence: np.ndarray
    predicted: np.ndarray  # index into classes
    texts: list[str]  # cleaned (redacted)
    classes: list[str]
    reference: dict[str, np.ndarray]
    taxonomy: Taxonomy
    review_threshold: float
    evidence: novelty.Evidence | None = None  # computed on first use

    @property
    def n(self) -> int:
        return len(self.confidence)

    def fit(self) -> novelty.Evidence:
        """The novelty evidence of the window's contacts (`novelty.evidence`), computed once."""
        if self.evidence is None:
            reference = {"review_threshold": np.array([self.review_threshold]), **self.reference}
            self.evidence = novelty.evidence(self.embeddings, self.confidence, reference)
        return self.evidence

    def name(self, description_id: str) -> str:
        d = self.taxonomy.descriptions.get(description_id)
        return d.name if d is not None else description_id


def _r(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


def input_drift(w: Window, cfg: DriftConfig) -> dict[str, Any]:
    """Domain classifier AUC against its permutation threshold, and MMD with a permutation p-value."""
    ref = w.reference["sample_embeddings"]
    common = {"max_n": min(cfg.max_reference, cfg.max_window), "seed": cfg.seed}
    clf = ds.domain_classifier_test(
        ref, w.embeddings, n_permutations=cfg.classifier_permutations, alpha=cfg.alpha / 2, **common
    )
    mmd = ds.mmd_test(ref, w.embeddings, n_permutations=cfg.mmd_permutations, **common)
    clf["min_auc"], mmd["min_mmd2"] = cfg.min_auc, cfg.min_mmd2
    clf["detected"] = bool(clf["detected"] and clf["auc"] >= cfg.min_auc)
    significant = mmd["p_value"] <= cfg.alpha / 2 + 1e-12 and cfg.mmd_permutations >= 2 / cfg.alpha
    mmd["detected"] = bool(significant and mmd["mmd2"] >= cfg.min_mmd2)
    return {"detected": bool(clf["detected"] or mmd["detected"]), "domain_classifier": clf, "mmd": mmd}


def reference_shares(reference: dict[str, np.ndarray]) -> np.ndarray:
    """Each description's share of the suggestions made on the training data (out of fold).

    The window's mix is a mix of suggestions, so it is compared with the suggestions' mix at training time,
    not with the labels' mix (the two differ where the model confuses descriptions). Older references
    without a confusion matrix fall back to the labels' mix.
    """
    if "confusion" in reference:
        predicted = reference["confusion"].sum(axis=0).astype(float)
        predicted = np.maximum(predicted, 0.5)  # a description never suggested in training is still possible
        return predicted / predicted.sum()
    shares = reference["class_share"].astype(float)
    return shares / shares.sum()


def _share_rows(
    counts: np.ndarray, shares: np.ndarray, n: int, ids: list[str], names: list[str], cfg: DriftConfig
) -> list[dict[str, Any]]:
    p = ds.binomial_pvalues(counts, n, shares)
    adjusted = ds.benjamini_hochberg(p)
    rows = []
    for i, key in enumerate(ids):
        window_share = counts[i] / n
        ratio = window_share / shares[i] if shares[i] > 0 else math.inf
        material = ratio >= cfg.min_ratio or ratio <= 1 / cfg.min_ratio
        rows.append(
            {
                "id": key,
                "name": names[i],
                "count": int(counts[i]),
                "expected": _r(shares[i] * n, 1),
                "reference_share": _r(shares[i]),
                "window_share": _r(window_share),
                "ratio": _r(ratio, 3) if math.isfinite(ratio) else None,
                "p_value": float(p[i]),
                "p_adjusted": float(adjusted[i]),
                "significant": bool(adjusted[i] < cfg.alpha and material),
            }
        )
    rows.sort(key=lambda r: (r["p_value"], r["id"]))
    return rows


def mix_drift(w: Window, cfg: DriftConfig) -> dict[str, Any]:
    """Each description's and group's share of the suggestions against its share in the training data.

    Two ways to find a changed mix, each at level `alpha`: per description and group, a binomial test
    (Benjamini-Hochberg over the descriptions) with a change of at least `min_ratio`; and over all
    descriptions at once, a one-sided test of growing shares (`increase_test`), which catches several
    moderate increases that no single corrected test can, provided one of the grown descriptions changed by
    `min_ratio` with an uncorrected p below `alpha`.
    """
    shares = reference_shares(w.reference)
    counts = np.bincount(w.predicted, minlength=len(w.classes))
    desc_rows = _share_rows(counts, shares, w.n, w.classes, [w.name(c) for c in w.classes], cfg)
    group_of = [w.taxonomy.group_of(c).id if c in w.taxonomy.descriptions else "?" for c in w.classes]
    groups = sorted(set(group_of))
    g_idx = np.array([groups.index(g) for g in group_of])
    g_counts = np.bincount(g_idx, weights=counts, minlength=len(groups))
    g_shares = np.bincount(g_idx, weights=shares, minlength=len(groups))
    g_names = {g.id: g.name for g in w.taxonomy.groups}
    group_rows = _share_rows(g_counts, g_shares, w.n, groups, [g_names.get(g, g) for g in groups], cfg)
    rng = np.random.default_rng(cfg.seed)
    null = [ds.js_distance(rng.multinomial(w.n, shares / shares.sum()), shares) for _ in range(200)]
    increase = ds.increase_test(counts, shares, cfg.mix_simulations, cfg.seed)
    # The global test needs something to show: the descriptions that grew materially and clearly.
    grown = [
        r
        for r in desc_rows
        if r["count"] > r["expected"]
        and r["p_value"] < cfg.alpha
        and (r["ratio"] is None or r["ratio"] >= cfg.min_ratio)
    ]
    increase["detected"] = bool(increase["p_value"] < cfg.alpha and grown)
    increase["grown"] = [r["id"] for r in sorted(grown, key=lambda r: (r["p_value"], r["id"]))[:5]]
    detected = increase["detected"] or any(r["significant"] for r in desc_rows + group_rows)
    return {
        "detected": bool(detected),
        "increase_test": increase,
        "js_distance": _r(ds.js_distance(counts, shares)),
        "js_distance_no_drift_p95": _r(np.quantile(null, 0.95)),
        "chi_square": ds.chi_square_test(counts, shares),
        "descriptions": desc_rows,
        "groups": group_rows if len(groups) > 1 else [],
    }


def confidence_drift(w: Window, cfg: DriftConfig) -> dict[str, Any]:
    """The share of suggestions needing review against the out-of-fold share at training time."""
    ref_rate = float(w.reference["review_rate"][0])
    fits_none = w.fit().fits_none if "novelty_coef" in w.reference else None  # as the reference rate counts
    k = int(needs_review(w.confidence, fits_none, w.review_threshold).sum())
    p = float(ds.binomial_pvalues(np.array([k]), w.n, np.array([ref_rate]), "greater")[0])
    rate = k / w.n
    return {
        "detected": bool(p < cfg.alpha and rate - ref_rate >= max(cfg.min_review_increase, 0.5 * ref_rate)),
        "review_threshold": _r(w.review_threshold),
        "reference_review_rate": _r(ref_rate),
        "window_review_rate": _r(rate),
        "n_needing_review": k,
        "p_value": p,
    }


def novelty_check(w: Window, cfg: DriftConfig) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Contacts fitting no description: their share, their distances, and clusters larger than chance.

    Three findings, any of which counts: more contacts fit no description than in training (binomial test,
    at `novelty_rate_share` of `alpha`: its reference rate comes from out-of-fold predictions, which are less
    confident than the final model's, so it is conservative); contacts lie farther from the known ones than
    known contacts do (`novelty.encoder_test`, on encoder distances alone, which stay calibrated whatever
    the classifier's confidence does; the rest of `alpha`); or a cluster of such contacts is larger than
    chance gives known contacts in a window of this size.
    """
    ev = w.fit()
    flags, nearest, dist = ev.fits_none, ev.nearest, ev.distance
    ref_rate = novelty.reference_misfit_rate(w.reference, w.review_threshold)
    k = int(flags.sum())
    p = float(ds.binomial_pvalues(np.array([k]), w.n, np.array([max(ref_rate, 1e-6)]), "greater")[0])
    rate_alpha = cfg.alpha * cfg.novelty_rate_share
    by_rate = p < rate_alpha and k / w.n - ref_rate >= max(cfg.min_rate_increase, 0.25 * ref_rate)
    distance: dict[str, Any] | None = None
    if "encoder_llr" in w.reference:
        distance = novelty.encoder_test(w.embeddings, ev, w.reference)
    elif "distance_llr" in w.reference:  # a reference written before the encoder test
        distance = novelty.distance_test(dist, nearest, w.reference)
    by_distance = distance is not None and distance["p_value"] < cfg.alpha - rate_alpha
    share = None if distance is None else distance.get("novel_share_estimate")
    if by_distance and share is not None:  # references from before the minimum effect have no estimate
        distance["min_novel_share"] = cfg.min_novel_share
        by_distance = share >= cfg.min_novel_share
    min_size = cfg.min_cluster_size or novelty.min_cluster_size(w.reference, w.n)
    clusters = _clusters(w, np.nonzero(flags)[0], min_size)
    detected_by = [
        name for name, hit in (("rate", by_rate), ("distance", by_distance), ("clusters", clusters)) if hit
    ]
    summary = {
        "detected": bool(detected_by),
        "detected_by": detected_by,
        "n_novel": k,
        "share": _r(k / w.n),
        "reference_share": _r(ref_rate),
        "p_value": p,
        "distance_test": distance,
        "min_cluster_size": min_size,
        "examples": _least_fitting(w, flags, dist),
    }
    return summary, clusters


def _least_fitting(w: Window, flags: np.ndarray, dist: np.ndarray, n: int = 5) -> list[str]:
    """The redacted texts of the flagged contacts that fit worst: lowest confidence first, then farthest."""
    idx = np.nonzero(flags)[0]
    order = np.lexsort((-dist[idx], w.confidence[idx]))
    return [w.texts[i] for i in novelty.distinct(idx[order], w.texts, n)]


def _clusters(w: Window, idx: np.ndarray, min_size: int) -> list[dict[str, Any]]:
    """Clusters of at least `min_size` among the contacts `idx`, described for an analyst."""
    if len(idx) < min_size:
        return []
    threshold = float(w.reference.get("cluster_threshold", [2 * np.median(w.reference["spreads"][:, 0])])[0])
    labels = novelty.cluster(w.embeddings[idx], threshold)
    terms = reference_terms(w.reference)
    found = novelty.describe_clusters(w.embeddings[idx], [w.texts[i] for i in idx], labels, min_size, terms)
    centroids = w.reference["centroids"]
    clusters = []
    for j, c in enumerate(found):
        members = idx[c.pop("members")]
        centre = c.pop("centre")
        near = int(np.argmax(centroids @ centre))
        filed, n_filed = Counter(w.predicted[members].tolist()).most_common(1)[0]
        clusters.append(
            {
                "id": j + 1,
                **c,
                "share": _r(c["size"] / w.n),
                "nearest_description": {
                    "id": w.classes[near],
                    "name": w.name(w.classes[near]),
                    "distance": _r(1.0 - centroids[near] @ centre),
                },
                "filed_as": {
                    "id": w.classes[filed],
                    "name": w.name(w.classes[filed]),
                    "share": _r(n_filed / len(members)),
                },
                "rows": members.tolist(),
            }
        )
    return clusters


def reference_terms(reference: dict[str, np.ndarray]) -> Counter[str] | None:
    if "term_vocab" not in reference:
        return None
    return Counter(
        dict(zip(reference["term_vocab"].tolist(), reference["term_counts"].tolist(), strict=True))
    )


def unused_descriptions(w: Window, cfg: DriftConfig) -> list[dict[str, Any]]:
    """Descriptions with (almost) no contacts in the window where the reference share expects several."""
    shares = reference_shares(w.reference)
    counts = np.bincount(w.predicted, minlength=len(w.classes))
    expected = shares * w.n
    tested = np.nonzero(expected >= 5)[0]
    if len(tested) == 0:
        return []
    p = ds.binomial_pvalues(counts[tested], w.n, shares[tested], "less")
    adjusted = ds.benjamini_hochberg(p)
    out = []
    for i, pa in zip(tested, adjusted, strict=True):
        if pa < cfg.alpha and counts[i] <= 0.2 * expected[i]:
            out.append(
                {
                    "id": w.classes[i],
                    "name": w.name(w.classes[i]),
                    "count": int(counts[i]),
                    "expected": _r(expected[i], 1),
                    "reference_share": _r(shares[i]),
                    "p_adjusted": float(pa),
                }
            )
    return out


def confused_pairs(
    w: Window, corrections: list[tuple[str, str]] | None, cfg: DriftConfig
) -> list[dict[str, Any]]:
    """Merge candidates from the model's out-of-fold confusion and from reviewers' corrections."""
    pairs: dict[tuple[str, str], dict[str, Any]] = {}

    def entry(a: str, b: str) -> dict[str, Any]:
        key = (a, b) if a < b else (b, a)
        return pairs.setdefault(
            key, {"a": key[0], "b": key[1], "a_name": w.name(key[0]), "b_name": w.name(key[1]), "sources": []}
        )

    conf = w.reference.get("confusion")
    if conf is not None:
        support = conf.sum(axis=1)
        both = conf + conf.T
        for i, j in zip(*np.triu_indices(len(w.classes), 1), strict=True):
            total = support[i] + support[j]
            rate = both[i, j] / total if total else 0.0
            if both[i, j] >= 3 and rate >= cfg.model_confusion_rate / 2:
                e = entry(w.classes[i], w.classes[j])
                e.update(model_confusions=int(both[i, j]), model_confusion_rate=_r(rate))
                e["sources"].append("model")
    for e in _review_pairs(corrections or []):
        target = entry(e.pop("a"), e.pop("b"))
        target.update(e)
        target["sources"].append("review")
    out = []
    for e in pairs.values():
        by_model = e.get("model_confusion_rate", 0.0) >= cfg.model_confusion_rate
        by_review = e.get("review_corrections", 0) >= cfg.min_corrections and (
            e.get("review_correction_rate", 0.0) >= cfg.min_correction_rate
        )
        e["merge_candidate"] = bool(by_model or by_review)
        e["confirmed_by_review"] = bool(by_review)
        out.append(e)
    out.sort(key=lambda e: (not e["confirmed_by_review"], -e.get("model_confusion_rate", 0.0), e["a"]))
    return out[:20]


def _review_pairs(corrections: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Pairs that reviewers moved contacts between, with the rate among reviews touching either of them."""
    involved: Counter[str] = Counter()
    moved: Counter[tuple[str, str]] = Counter()
    for suggested, decided in corrections:
        involved.update({suggested, decided})
        if suggested != decided:
            a, b = sorted((suggested, decided))
            moved[(a, b)] += 1
    out = []
    for (a, b), n in moved.items():
        touching = sum(1 for s, d in corrections if {s, d} & {a, b})
        out.append(
            {"a": a, "b": b, "review_corrections": n, "review_correction_rate": _r(n / max(touching, 1))}
        )
    return out


def best_split(embeddings: np.ndarray, seed: int = 0) -> tuple[float, np.ndarray]:
    """Two-means split of some contacts and its silhouette (cosine): how well they separate in two."""
    labels = KMeans(2, n_init=4, random_state=seed).fit_predict(embeddings)
    if len(set(labels)) < 2:
        return 0.0, labels
    return float(silhouette_score(embeddings, labels, metric="cosine")), labels


def split_candidates(w: Window, cfg: DriftConfig) -> list[dict[str, Any]]:
    """Descriptions whose window contacts fall into two well-separated groups, more clearly than in training.

    The bar is the clearest split any description showed in training (on 40 of its contacts) and at least
    `split_margin` above the description's own. Repeated texts are counted once: copies of one contact
    would otherwise form a tight group of their own.
    """
    ref = w.reference.get("split_silhouette")
    floor = float(np.max(ref)) if ref is not None else 0.3
    _, first = np.unique(np.asarray(w.texts, dtype=object), return_index=True)
    distinct = np.zeros(w.n, dtype=bool)
    distinct[first] = True
    out = []
    for k, cid in enumerate(w.classes):
        idx = np.nonzero((w.predicted == k) & distinct)[0]
        if len(idx) < cfg.split_min_contacts:
            continue
        sil, labels = best_split(w.embeddings[idx], cfg.seed)
        base = float(ref[k]) if ref is not None else 0.0
        small = min(np.bincount(labels, minlength=2))
        if sil < max(floor, base + cfg.split_margin) or small < max(5, 0.2 * len(idx)):
            continue
        out.append(
            {
                "id": cid,
                "name": w.name(cid),
                "n": len(idx),
                "silhouette": _r(sil),
                "reference_silhouette": _r(base),
                "parts": _split_parts(w, idx, labels),
            }
        )
    return out


def _split_parts(w: Window, idx: np.ndarray, labels: np.ndarray) -> list[dict[str, Any]]:
    bags = [[t for i in idx[labels == p] for t in novelty.keyword_tokens(w.texts[i])] for p in (0, 1)]
    parts = []
    for p, kws in zip((0, 1), ds.ctfidf(bags, reference_terms(w.reference), top=5), strict=True):
        members = idx[labels == p]
        centre = w.embeddings[members].mean(axis=0)
        closest = members[np.argsort(-(w.embeddings[members] @ centre))[:3]]
        parts.append(
            {"size": len(members), "keywords": [t for t, _ in kws], "examples": [w.texts[i] for i in closest]}
        )
    return parts
