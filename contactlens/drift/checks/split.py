"""Split candidates: descriptions whose contacts fall into two well-separated groups."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from contactlens.drift import novelty
from contactlens.drift import stats as ds
from contactlens.drift.base import Check, DriftConfig, TrainingData, Window, _r, reference_terms
from contactlens.drift.result import DriftReport


class SplitCandidates(Check):
    keys = ("split_candidates",)
    section = "split.html"

    def fit_reference(self, data: TrainingData) -> dict[str, np.ndarray]:
        """Each description's own clearest split in training (0 for descriptions with under 10 contacts)."""
        k = data.oof.shape[1]
        rng = np.random.default_rng(data.seed)
        split = np.zeros(k, dtype=np.float32)
        for c in range(k):
            # On 40 contacts, as a window's split test sees at least that many: fewer contacts split more
            # cleanly.
            rows = np.nonzero(data.y_idx == c)[0]
            if len(rows) >= 10:
                take = rng.choice(rows, size=min(len(rows), 40), replace=False)
                split[c] = best_split(data.embeddings[take], data.seed)[0]
        return {"split_silhouette": split}

    def compute(self, w: Window, cfg: DriftConfig, corrections: list[tuple[str, str]]) -> dict[str, Any]:
        return {"split_candidates": split_candidates(w, cfg)}

    def reasons(self, report: DriftReport) -> list[str]:
        out = []
        for s in report.section("split_candidates"):
            sizes = " and ".join(str(p["size"]) for p in s["parts"])
            out.append(
                f"'{s['name']}' contacts form two distinct groups ({sizes} contacts, "
                f"silhouette {s['silhouette']:.2f}): consider splitting it"
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
