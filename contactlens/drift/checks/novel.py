"""Contacts that fit no description: their share, their distances, and clusters that may be new descriptions.

Its reference statistics: the tuned "fits no description" rule with its held-out statistics
(`novelty.tune_rule`), the clustering threshold, and the training vocabulary's word counts (which the split
check's keywords also read).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from contactlens.drift import novelty
from contactlens.drift import stats as ds
from contactlens.drift.base import (
    Check,
    DriftConfig,
    Row,
    TrainingData,
    Window,
    _r,
    p_text,
    pct,
    png,
    reference_terms,
)
from contactlens.drift.result import DriftReport, NoveltySummary


class Novelty(Check):
    keys = ("novelty", "novel_clusters")
    section = "novelty.html"

    def fit_reference(self, data: TrainingData) -> dict[str, np.ndarray]:
        k = data.oof.shape[1]
        vocab, counts = novelty.term_counts(data.cleaned)
        # A term seen once in all the training texts is the likeliest to be a personal detail the redaction
        # missed (a misspelt surname); the artifact keeps only terms seen at least twice.
        vocab, counts = vocab[counts >= 2], counts[counts >= 2]
        rule = novelty.tune_rule(
            data.embeddings, data.y_idx, data.oof, data.folds, data.seed, data.neighbours, data.known_rate
        )
        return {
            **rule,
            "cluster_threshold": np.array([novelty.cluster_threshold(data.embeddings, data.y_idx, k)]),
            "term_vocab": vocab,
            "term_counts": counts,
        }

    def compute(self, w: Window, cfg: DriftConfig, corrections: list[tuple[str, str]]) -> dict[str, Any]:
        summary, clusters = novelty_check(w, cfg)
        return {"novelty": summary, "novel_clusters": clusters}

    def reasons(self, report: DriftReport) -> list[str]:
        out = []
        nov: NoveltySummary = report.section("novelty")
        if "rate" in nov.detected_by:
            out.append(
                f"{pct(nov.share)} of contacts fit no description ({nov.n_novel} contacts; "
                f"{pct(nov.reference_share)} expected from training, {p_text(nov.p_value)})"
            )
        if "baseline" in nov.detected_by and nov.baseline is not None:
            b = nov.baseline
            out.append(
                f"{pct(nov.share)} of contacts fit no description against {pct(b['expected_share'])} "
                f"expected from the baseline period at this window's mix of descriptions ({b['n_novel']} of "
                f"its {b['n_contacts']} contacts, {pct(b['share'])}; {p_text(b['p_value'])})"
            )
        if "distance" in nov.detected_by and nov.distance_test is not None:
            out.append(
                "Contacts lie farther from every description and every training contact than known contacts "
                f"do (distance test {p_text(nov.distance_test['p_value'])}): some fit no description"
            )
        for c in report.section("novel_clusters")[:5]:
            out.append(
                f"Possible new description '{c['proposed_name']}': {c['size']} similar contacts that fit no "
                f"description ({pct(c['share'])}), now filed mostly as '{c['filed_as']['name']}'"
            )
        return out

    def evidence(self, report: DriftReport) -> Row:
        nov: NoveltySummary = report.section("novelty")
        distance_p = (nov.distance_test or {}).get("p_value", 1.0)
        base = ""
        if nov.baseline is not None:
            base = (
                f"; {pct(nov.baseline['expected_share'])} from the baseline (p {nov.baseline['p_value']:.2g})"
            )
        return Row(
            "Fits no description",
            nov.detected,
            f"{nov.n_novel} contacts, {pct(nov.share)}; {pct(nov.reference_share)} expected "
            f"(p {nov.p_value:.2g}){base}; distance test p {distance_p:.2g}; "
            f"found by: {', '.join(nov.detected_by) or 'nothing'}",
        )

    def charts(self, report: DriftReport) -> dict[str, str]:
        clusters = report.section("novel_clusters")
        return {"clusters": clusters_chart(clusters)} if clusters else {}


def novelty_check(w: Window, cfg: DriftConfig) -> tuple[NoveltySummary, list[dict[str, Any]]]:
    """Contacts fitting no description: their share, their distances, and clusters larger than chance.

    Three findings, or four with a baseline period, any of which counts: more contacts fit no description than
    in training (binomial test,
    at `novelty_rate_share` of `alpha`: its reference rate comes from out-of-fold predictions, which are less
    confident than the final model's, so it is conservative); contacts lie farther from the known ones than
    known contacts do (`novelty.encoder_test`, on encoder distances alone, which stay calibrated whatever
    the classifier's confidence does; the rest of `alpha`); or a cluster of such contacts is larger than
    chance gives known contacts in a window of this size; or, given a baseline period of live contacts
    (`Window.baseline`), more fit no description than in that period (`baseline_test`).
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
    if distance is not None and share is not None:  # older references have no estimate
        # New phrasings of known descriptions move the distances too: the evidence must go beyond what
        # they did at training time (`novelty.fresh_wording_share`), for the rate test as well.
        wording = float(w.reference.get("fresh_wording_share", [0.0])[0])
        floor = max(cfg.min_novel_share, wording if cfg.fresh_wording_guard else 0.0)
        distance["fresh_wording_share"] = round(wording, 4)
        distance["min_novel_share"] = round(floor, 4)
        by_distance = by_distance and share >= floor
        if cfg.fresh_wording_guard and wording > cfg.min_novel_share:
            by_rate = by_rate and share >= wording
    min_size = cfg.min_cluster_size or novelty.min_cluster_size(w.reference, w.n)
    clusters = _clusters(w, np.nonzero(flags)[0], min_size)
    baseline = baseline_test(w, flags, cfg)
    found = (
        ("rate", by_rate),
        ("distance", by_distance),
        ("clusters", clusters),
        ("baseline", baseline is not None and baseline["detected"]),
    )
    detected_by = [name for name, hit in found if hit]
    summary = NoveltySummary(
        detected=bool(detected_by),
        detected_by=detected_by,
        n_novel=k,
        share=_r(k / w.n),
        reference_share=_r(ref_rate),
        p_value=p,
        distance_test=distance,
        min_cluster_size=min_size,
        examples=_least_fitting(w, flags, dist),
        baseline=baseline,
    )
    return summary, clusters


def baseline_test(w: Window, flags: np.ndarray, cfg: DriftConfig) -> dict[str, Any] | None:
    """Do more of the window's contacts fit no description than the baseline period's, description by
    description? None without a baseline.

    The baseline (`Window.baseline`) is live contacts the model did not train on, worded as this
    organisation's customers word them: a month of fresh wording for known descriptions raises the window's
    share against training, but not against a baseline worded alike. So this comparison needs no fresh-wording
    guard, and it finds novelty spread over many new kinds of contact, which the training reference cannot
    tell from new wording. The contacts are compared within each suggested description, so a month whose mix
    moves towards descriptions that often fit badly does not count as novelty: a one-sided stratified test of
    the novelty scores (each description's difference of means weighted n1 n2 / (n1 + n2), its variance
    pooled within the description; on 0/1 flags it is Cochran-Mantel-Haenszel's), level `alpha`. It reads
    the rule's scores where the reference has a tuned rule (more power than the flags: 95% against 92% of
    BANKING77's diffuse windows), else the flags. The effect, the window's share fitting no description less
    the baseline's rates at the window's mix (`expected_share`), must be at least `min_rate_increase` and a
    quarter of the expected share.
    """
    b = w.baseline
    if b is None:
        return None
    from scipy import stats

    scored = "novelty_coef" in w.reference
    x_w = w.fit().score if scored else flags.astype(np.float64)
    x_b = b.evidence.score if scored else b.evidence.fits_none.astype(np.float64)
    z = _stratified_z(x_w, w.predicted, x_b, b.predicted, len(w.classes))
    p = float(stats.norm.sf(z)) if z is not None else 1.0
    k = len(w.classes)
    fb = b.evidence.fits_none.astype(np.float64)
    n1, n2 = np.bincount(w.predicted, minlength=k), np.bincount(b.predicted, minlength=k)
    # The baseline's rate per description at the window's mix (its overall rate where it has none).
    overall = float(fb.mean())
    rates = np.where(n2 > 0, np.bincount(b.predicted, weights=fb, minlength=k) / np.maximum(n2, 1), overall)
    expected_share = float(rates @ n1) / w.n
    share = float(flags.mean())
    min_increase = max(cfg.min_rate_increase, 0.25 * expected_share)
    return {
        "n_contacts": b.n,
        "n_novel": int(fb.sum()),
        "share": _r(overall),
        "expected_share": _r(expected_share),
        "increase": _r(share - expected_share),
        "min_increase": _r(min_increase),
        "test": "novelty scores within descriptions" if scored else "misfits within descriptions",
        "z": _r(z or 0.0, 3),
        "p_value": p,
        "detected": bool(p < cfg.alpha and share - expected_share >= min_increase),
    }


def _stratified_z(x_w: np.ndarray, g_w: np.ndarray, x_b: np.ndarray, g_b: np.ndarray, k: int) -> float | None:
    """z of the window's values above the baseline's within groups: sum over groups of n1 n2 / (n1 + n2)
    times the difference of means, over its standard error from the variance pooled within each group (None
    when no group holds both sides with any spread)."""
    n1 = np.bincount(g_w, minlength=k).astype(np.float64)
    n2 = np.bincount(g_b, minlength=k).astype(np.float64)
    s1, s2 = np.bincount(g_w, weights=x_w, minlength=k), np.bincount(g_b, weights=x_b, minlength=k)
    q = np.bincount(g_w, weights=x_w * x_w, minlength=k) + np.bincount(g_b, weights=x_b * x_b, minlength=k)
    total = n1 + n2
    ok = (n1 > 0) & (n2 > 0) & (total >= 3)
    if not ok.any():
        return None
    n1, n2, s1, s2, q, total = n1[ok], n2[ok], s1[ok], s2[ok], q[ok], total[ok]
    weight = n1 * n2 / total
    var = np.maximum(q - (s1 + s2) ** 2 / total, 0.0) / (total - 1)  # pooled within the group
    spread = float(weight @ var)
    if spread <= 0:
        return None
    return float(weight @ (s1 / n1 - s2 / n2)) / float(np.sqrt(spread))


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


def clusters_chart(clusters: list[dict[str, Any]]) -> str:
    from matplotlib.figure import Figure

    rows = clusters[:12][::-1]
    fig = Figure(figsize=(8, 0.4 * len(rows) + 1))
    ax = fig.subplots()
    ax.barh(np.arange(len(rows)), [c["size"] for c in rows], color="#8e24aa")
    ax.set_yticks(np.arange(len(rows)), [c["proposed_name"][:50] for c in rows], fontsize=8)
    ax.set_xlabel("contacts that fit no description")
    fig.tight_layout()
    return png(fig)
