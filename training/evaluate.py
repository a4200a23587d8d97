"""Metrics for a description head and a sentiment head. The JSON keys here are a public contract (README)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.preprocessing import MultiLabelBinarizer

from contactlens import data as datamod
from contactlens.model import ContactModel, Scores, needs_review
from contactlens.redaction import clean_many
from contactlens.results import Evaluation, LabelAudit
from contactlens.taxonomy import Taxonomy


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """ECE with equal-width confidence bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> list[dict[str, float]]:
    """Per-bin mean confidence, accuracy and count (for the reliability diagram)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = idx == b
        if mask.any():
            out.append(
                {
                    "lower": float(edges[b]),
                    "upper": float(edges[b + 1]),
                    "confidence": float(confidence[mask].mean()),
                    "accuracy": float(correct[mask].mean()),
                    "count": int(mask.sum()),
                }
            )
    return out


def risk_coverage(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coverage, accuracy on the covered part, and the confidence threshold, most confident first."""
    order = np.argsort(-confidence, kind="stable")
    hits = correct[order].astype(float)
    n = np.arange(1, len(hits) + 1)
    return n / len(hits), np.cumsum(hits) / n, confidence[order]


def accuracy_at_coverage(confidence: np.ndarray, correct: np.ndarray, coverage: float) -> float:
    cov, acc, _ = risk_coverage(confidence, correct)
    k = max(1, int(np.ceil(coverage * len(cov))))
    return float(acc[k - 1])


def threshold_for_accuracy(confidence: np.ndarray, correct: np.ndarray, target: float) -> tuple[float, float]:
    """The lowest confidence threshold whose accepted share is at least `target` accurate, and that share.

    Returns (1.0, 0.0) when no share reaches the target: then every contact goes to review.
    """
    cov, acc, thr = risk_coverage(confidence, correct)
    ok = np.nonzero(acc >= target)[0]
    if len(ok) == 0:
        return 1.0, 0.0
    k = ok[-1]
    return float(thr[k]), float(cov[k])


def description_metrics(
    y_true: list[str], proba: np.ndarray, classes: list[str], taxonomy: Taxonomy | None = None
) -> dict[str, Any]:
    """Accuracy, macro F1, top-3, calibration, coverage and per-description/group figures."""
    y = np.asarray(y_true)
    cls = np.asarray(classes)
    pred = cls[proba.argmax(axis=1)]
    conf = proba.max(axis=1)
    correct = pred == y
    top3 = np.argsort(-proba, axis=1)[:, :3]
    in_top3 = np.array([t in set(cls[row]) for t, row in zip(y, top3, strict=True)])
    labels = sorted(set(y) | set(pred))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    per_desc = {
        lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, lab in enumerate(labels)
    }
    out: dict[str, Any] = {
        "n": int(len(y)),
        "accuracy": float(correct.mean()),
        "macro_f1": float(f1_score(y, pred, labels=sorted(set(y)), average="macro", zero_division=0)),
        "top3_accuracy": float(in_top3.mean()),
        "ece": expected_calibration_error(conf, correct),
        "accuracy_at_coverage_80": accuracy_at_coverage(conf, correct, 0.8),
        "coverage_at_accuracy_97": threshold_for_accuracy(conf, correct, 0.97)[1],
        "per_description": per_desc,
        "confused_pairs": confused_pairs(y, pred),
        "reliability": reliability(conf, correct),
    }
    if taxonomy is not None:
        groups = {d: taxonomy.descriptions[d].group for d in taxonomy.descriptions}
        g_true = np.array([groups.get(t, "?") for t in y])
        g_pred = np.array([groups.get(t, "?") for t in pred])
        out["group_accuracy"] = float((g_true == g_pred).mean())
        out["per_group"] = {
            g: {"accuracy": float(correct[g_true == g].mean()), "n": int((g_true == g).sum())}
            for g in sorted(set(g_true))
        }
    return out


def confused_pairs(y: np.ndarray, pred: np.ndarray, top: int = 10) -> list[dict[str, Any]]:
    """The most frequent (true, predicted) mistakes, either direction counted together."""
    counts: Counter[tuple[str, str]] = Counter()
    for t, p in zip(y, pred, strict=True):
        if t != p:
            counts[tuple(sorted((str(t), str(p))))] += 1  # type: ignore[index]
    return [{"a": a, "b": b, "count": n} for (a, b), n in counts.most_common(top)]


def sentiment_metrics(y_true: list[str], proba: np.ndarray, classes: list[str]) -> dict[str, Any]:
    y = np.asarray(y_true)
    pred = np.asarray(classes)[proba.argmax(axis=1)]
    conf = proba.max(axis=1)
    return {
        "sentiment_accuracy": float((pred == y).mean()),
        "sentiment_macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        "sentiment_ece": expected_calibration_error(conf, pred == y),
    }


def multilabel_metrics(y_true: list[list[str]], y_pred: list[list[str]]) -> dict[str, Any]:
    """Set-valued decisions against the labelled sets: micro/macro F1, exact match, per-description figures.

    Macro F1 averages the descriptions that occur in `y_true`.
    """
    labels = sorted({d for row in y_true for d in row} | {d for row in y_pred for d in row})
    binarizer = MultiLabelBinarizer(classes=labels)
    t = binarizer.fit_transform(y_true)
    p = binarizer.transform(y_pred)
    present = [k for k, lab in enumerate(labels) if t[:, k].any()]
    prec, rec, f1, support = precision_recall_fscore_support(t, p, zero_division=0)
    return {
        "multilabel_micro_f1": float(f1_score(t, p, average="micro", zero_division=0)),
        "multilabel_macro_f1": float(np.mean(f1[present])) if present else 0.0,
        "exact_match": float(np.mean([set(a) == set(b) for a, b in zip(y_true, y_pred, strict=True)])),
        "labels_per_contact": float(np.mean([len(b) for b in y_pred])) if y_pred else 0.0,
        "multilabel_per_description": {
            lab: {
                "precision": float(prec[k]),
                "recall": float(rec[k]),
                "f1": float(f1[k]),
                "support": int(support[k]),
            }
            for k, lab in enumerate(labels)
        },
    }


def description_sentiment_metrics(model: ContactModel, frame: pd.DataFrame, scores: Scores) -> dict[str, Any]:
    """Accuracy of the sentiment given to each labelled description of a contact (its pair's sentiment, else
    the row's overall one), scored for the labelled descriptions so detection errors do not count twice.

    `sentiment_per_description_accuracy_multi` keeps contacts with several descriptions only: there the
    sentiment must come from the clauses about each one.
    """
    truth = datamod.pair_sentiments(frame)
    ids = [list(x) for x in frame["labels"]]
    predicted = model.description_sentiments(scores.cleaned, ids, scores.sentiment)
    hits, multi_hits = [], []
    for row_ids, row_truth, row_pred in zip(ids, truth, predicted, strict=True):
        for d, want in zip(row_ids, row_truth, strict=True):
            if want in datamod.SENTIMENTS and d in row_pred:
                ok = row_pred[d].label == want
                hits.append(ok)
                if len(row_ids) > 1:
                    multi_hits.append(ok)
    return {
        "sentiment_per_description_accuracy": float(np.mean(hits)) if hits else None,
        "sentiment_per_description_n": len(hits),
        "sentiment_per_description_accuracy_multi": float(np.mean(multi_hits)) if multi_hits else None,
        "sentiment_per_description_multi_n": len(multi_hits),
    }


def slices(frame: pd.DataFrame, correct: np.ndarray, column: str, min_n: int = 5) -> dict[str, Any]:
    """Accuracy per value of a column (channel, site...) with at least `min_n` rows."""
    out = {}
    for value, idx in frame.groupby(column).indices.items():
        if len(idx) >= min_n:
            out[str(value)] = {"accuracy": float(correct[idx].mean()), "n": int(len(idx))}
    return out


def evaluate_frame(model: ContactModel, frame: pd.DataFrame, scores: Scores | None = None) -> Evaluation:
    """Score a labelled frame with a model and report every metric of the contract.

    `frame` holds description ids (`training.pipeline.evaluate` maps labels as written to ids first); a
    `description` cell of several (`a:negative;b`) counts its first as the primary description.
    """
    frame = datamod.with_labels(frame)
    scores = scores or model.score(frame["text"].tolist(), progress=len(frame) > 500)
    y = frame["description"].tolist()
    pred = np.asarray(model.classes)[scores.proba.argmax(axis=1)]
    correct = pred == np.asarray(y)
    ev = model.fit_evidence(scores)
    fits_none = ev.fits_none if ev is not None else None
    review = needs_review(scores.top_confidence, fits_none, model.review_threshold)
    accepted = ~review
    short = frame["text"].str.split().str.len() <= 5
    has_channel = "channel" in frame.columns and frame["channel"].str.len().gt(0).any()
    known = frame["sentiment"].isin(datamod.SENTIMENTS).to_numpy() if "sentiment" in frame.columns else None
    sentiment: dict[str, Any] = {}
    if known is not None and known.any() and scores.sentiment is not None and model.sentiment_head:
        classes = [str(c) for c in model.sentiment_head.classes]
        truth = frame["sentiment"].to_numpy()[known].tolist()
        sentiment = sentiment_metrics(truth, scores.sentiment[known], classes)
    decisions = model.decisions(scores)
    labelled = [list(x) for x in frame["labels"]]
    # Is a decided description's confidence the chance that it is labelled?
    pairs = [(c, d in t) for t, row in zip(labelled, decisions, strict=True) for d, c in row]
    multilabel_ece = None
    if pairs:
        conf, hit = (np.asarray(x) for x in zip(*pairs, strict=True))
        multilabel_ece = expected_calibration_error(conf.astype(float), hit.astype(bool))
    return Evaluation(
        **description_metrics(y, scores.proba, model.classes, model.taxonomy),
        review_threshold=model.review_threshold,
        review_rate=float(review.mean()),
        fits_no_description_rate=float(fits_none.mean()) if fits_none is not None else None,
        accuracy_when_not_reviewed=float(correct[accepted].mean()) if accepted.any() else None,
        accuracy_when_not_reviewed_target=float(
            model.metadata.get("config", {}).get("target_accuracy", 0.97)
        ),
        slice_short_texts=(
            {"accuracy": float(correct[short.to_numpy()].mean()), "n": int(short.sum())}
            if short.any()
            else None
        ),
        per_channel=slices(frame, correct, "channel") if has_channel else None,
        sentiment_accuracy=sentiment.get("sentiment_accuracy"),
        sentiment_macro_f1=sentiment.get("sentiment_macro_f1"),
        sentiment_ece=sentiment.get("sentiment_ece"),
        **multilabel_metrics(labelled, [[d for d, _ in row] for row in decisions]),
        multilabel_ece=multilabel_ece,
        **description_sentiment_metrics(model, frame, scores),
        label_audit=label_audit_section(frame["description"].tolist(), scores.proba, model.classes),
    )


LISTED_ISSUES = 50


def label_audit_section(labels: list[str], proba: np.ndarray, classes: list[str]) -> LabelAudit:
    """Likely label errors in the evaluated file (confident learning on the model's probabilities, held out
    from its training): how many, and the first `LISTED_ISSUES` with row, given and suggested label."""
    from contactlens.label_audit import label_issues

    present = sorted(set(labels) & set(classes))
    rows = [i for i, y in enumerate(labels) if y in present]
    if len(present) < 2 or not rows:
        return LabelAudit(0, [], "fewer than 2 of the model's descriptions in the file")
    cols = [classes.index(c) for c in present]
    found = label_issues([labels[i] for i in rows], proba[np.ix_(rows, cols)], present)
    for item in found:
        item["row"] = rows[item["row"] - 1] + 1
    return LabelAudit(len(found), found[:LISTED_ISSUES])


def worst_errors(model: ContactModel, frame: pd.DataFrame, scores: Scores, n: int = 10) -> pd.DataFrame:
    """The most confident mistakes: where the model is surest and wrong (label problems hide here too)."""
    classes = np.asarray(model.classes)
    pred = classes[scores.proba.argmax(axis=1)]
    wrong = pred != frame["description"].to_numpy()
    out = pd.DataFrame(
        {
            "text": scores.cleaned,
            "true": frame["description"].to_numpy(),
            "predicted": pred,
            "confidence": scores.top_confidence.round(3),
        }
    )[wrong]
    out = out.sort_values("confidence", ascending=False).head(n).reset_index(drop=True)
    # Shown in notebooks and reports: the full redaction pass (NER names too), as stored text gets.
    out["text"] = clean_many(out["text"].tolist()) if len(out) else out["text"]
    return out
