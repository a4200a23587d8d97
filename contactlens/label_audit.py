"""Label audit: likely label errors (confident learning on out-of-fold probabilities, with cleanlab) and
near-duplicate texts (character n-gram TF-IDF cosine), each listed with its row, given and suggested label.

"Rubbish in, rubbish out": used by `contactlens data check --label-issues`, `contactlens evaluate` and
`benchmarks/label_audit.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from contactlens.errors import DataError

NEAR_THRESHOLD = 0.9  # cosine of character 3-5-gram TF-IDF vectors
FOLDS = 5


def features(texts: Sequence[str], embeddings: np.ndarray | None = None) -> Any:
    """Word 1-2-gram and character 2-5-gram TF-IDF (as training's vectoriser), joined with `embeddings`."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    union = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ]
    )
    x = union.fit_transform(list(texts)).tocsr()
    if embeddings is not None:
        x = sparse.hstack([x, sparse.csr_matrix(np.asarray(embeddings, dtype=np.float64))]).tocsr()
    return x


def out_of_fold_proba(
    x: Any, labels: Sequence[str], folds: int = FOLDS, seed: int = 0, n_jobs: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities of a logistic regression on `x`: (probabilities, classes).

    Raises:
        DataError: fewer than 2 labels, or a label with fewer rows than folds.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    classes, y = np.unique(np.asarray(labels, dtype=str), return_inverse=True)
    counts = np.bincount(y)
    if len(classes) < 2:
        raise DataError("a label audit needs at least 2 different labels")
    if counts.min() < 2:
        rare = classes[counts.argmin()]
        raise DataError(f"label '{rare}' has {counts.min()} row: a label audit needs at least 2 per label")
    k = int(min(folds, counts.min()))
    cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    lr = LogisticRegression(C=10.0, max_iter=1000)
    proba = cross_val_predict(lr, x, y, cv=cv, method="predict_proba", n_jobs=n_jobs)
    return np.asarray(proba), classes


CONTRADICTED_BELOW = 0.01  # a given label the model gives under 1% while another description has >= 50%


def label_issues(
    labels: Sequence[str], proba: np.ndarray, classes: Sequence[str], min_margin: float = 0.0
) -> list[dict[str, Any]]:
    """Rows whose given label is likely wrong, most doubtful first (cleanlab's confident learning).

    Args:
        labels: the given label of each row. proba: held-out probabilities (rows x classes).
        min_margin: keep an issue only when the suggested label's probability beats the given one's by this
            much (0: cleanlab's own set).

    Returns:
        [{row (1-based, as `data check` counts), given, suggested, confidence (of the suggested label),
        given_confidence}].
    """
    from cleanlab.filter import find_label_issues

    index = {str(c): k for k, c in enumerate(classes)}
    unknown = sorted({str(x) for x in labels} - set(index))
    if unknown:
        raise DataError(f"labels without a probability column: {', '.join(unknown[:5])}")
    y = np.array([index[str(x)] for x in labels])
    proba = np.asarray(proba, dtype=float)
    proba = proba / np.clip(proba.sum(axis=1, keepdims=True), 1e-12, None)
    found = list(find_label_issues(y, proba, return_indices_ranked_by="self_confidence"))
    # Confident learning compares each row with per-class mean confidences, so on a sharp model it can pass
    # over a label the model all but rules out (measured: given label at 0.00003, another at 0.56). Such
    # labels are listed too: the given one under CONTRADICTED_BELOW while another has at least half.
    given = proba[np.arange(len(y)), y]
    contradicted = np.flatnonzero((given < CONTRADICTED_BELOW) & (proba.max(axis=1) >= 0.5))
    found += sorted(set(contradicted.tolist()) - set(map(int, found)), key=lambda i: given[i])
    out = []
    for i in found:
        j = int(proba[i].argmax())
        if j == y[i] or proba[i, j] - proba[i, y[i]] < min_margin:
            continue
        out.append(
            {
                "row": int(i) + 1,
                "given": str(classes[y[i]]),
                "suggested": str(classes[j]),
                "confidence": round(float(proba[i, j]), 4),
                "given_confidence": round(float(proba[i, y[i]]), 4),
            }
        )
    return out


def near_duplicates(
    texts: Sequence[str],
    other: Sequence[str] | None = None,
    threshold: float = NEAR_THRESHOLD,
    chunk: int = 500,
) -> list[tuple[int, int, float]]:
    """Pairs of texts whose character 3-5-gram TF-IDF cosine (case and punctuation aside) is at least
    `threshold`.

    Within `texts` (i < j) or, with `other`, between the two (i in texts, j in other). 0-based indices,
    most similar first. Exact repeats are included (cosine 1).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    from contactlens.data import near_key  # case, punctuation and spacing ignored, as `data check` does

    a = [near_key(t) for t in texts]
    b = [near_key(t) for t in other] if other is not None else a
    # IDF from both sides: common n-grams ("my ", "how") weigh little, so a one-word rephrasing stays close.
    corpus = a + b if other is not None else a
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit(corpus)
    xa, xb = vec.transform(a), vec.transform(b)
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, xa.shape[0], chunk):
        sims = (xa[start : start + chunk] @ xb.T).tocoo()
        keep = sims.data >= threshold - 1e-9  # filter before the Python loop: most pairs share some n-gram
        for i, j, s in zip(sims.row[keep], sims.col[keep], sims.data[keep], strict=True):
            i = int(i) + start
            if (other is not None or i < j) and a[i] and b[j]:
                pairs.append((i, int(j), round(float(min(s, 1.0)), 4)))
    pairs.sort(key=lambda p: (-p[2], p[0], p[1]))
    return pairs


def duplicate_rows(
    pairs: list[tuple[int, int, float]], labels: Sequence[str], other_labels: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Near-duplicate pairs as rows (1-based) with both labels; `suggested` is the other text's label when
    they differ (a candidate label error), else null."""
    theirs = other_labels if other_labels is not None else labels
    return [
        {
            "row": i + 1,
            "other_row": j + 1,
            "similarity": s,
            "given": str(labels[i]),
            "other_label": str(theirs[j]),
            "suggested": str(theirs[j]) if str(theirs[j]) != str(labels[i]) else None,
            "confidence": s,
        }
        for i, j, s in pairs
    ]


def audit(
    texts: Sequence[str],
    labels: Sequence[str],
    other_texts: Sequence[str] | None = None,
    other_labels: Sequence[str] | None = None,
    embeddings: np.ndarray | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The label audit of labelled texts: label issues and near duplicates (within, and with `other`)."""
    proba, classes = out_of_fold_proba(features(texts, embeddings), labels, seed=seed)
    issues = label_issues(labels, proba, [str(c) for c in classes])
    within = duplicate_rows(near_duplicates(texts), labels)
    report: dict[str, Any] = {
        "rows": len(texts),
        "label_issues": issues,
        "near_duplicates": within,
        "near_duplicates_conflicting": sum(1 for d in within if d["suggested"]),
        "out_of_fold_accuracy": round(float((classes[proba.argmax(axis=1)] == np.asarray(labels)).mean()), 4),
    }
    if other_texts is not None and other_labels is not None:
        report["near_duplicates_other"] = duplicate_rows(
            near_duplicates(texts, other_texts), labels, other_labels
        )
    return report


def audit_frame(frame: Any, against: Any = None, encode: Any = None, seed: int = 0) -> dict[str, Any]:
    """`audit` of a loaded labelled file (and the `against` file): each row's primary label; rows without
    a text or a label are left out. Rows are numbered as `data check` numbers them (first data row = 1).

    Args:
        encode: optional `texts -> embeddings` (a model's encoder) joined to the TF-IDF features.
    """
    from contactlens.data import with_labels
    from contactlens.text import clean

    def usable(f: Any) -> Any:
        f = with_labels(f)
        return f[(f["text"].str.strip() != "") & (f["labels"].map(len) > 0)]

    mine = usable(frame)
    texts = [clean(t) for t in mine["text"]]
    labels = [ls[0] for ls in mine["labels"]]
    other = usable(against) if against is not None else None
    report = audit(
        texts,
        labels,
        [clean(t) for t in other["text"]] if other is not None else None,
        [ls[0] for ls in other["labels"]] if other is not None else None,
        embeddings=encode(texts) if encode is not None else None,
        seed=seed,
    )
    rows, other_rows = list(mine.index), list(other.index) if other is not None else []
    for key, theirs in (
        ("label_issues", None),
        ("near_duplicates", rows),
        ("near_duplicates_other", other_rows),
    ):
        for item in report.get(key, []):
            item["row"] = int(rows[item["row"] - 1]) + 1
            if theirs is not None:
                item["other_row"] = int(theirs[item["other_row"] - 1]) + 1
    return report
