"""The "fits no description" rule on the drift benchmark's test set, offline: 4 inputs, 5, and 5 with the
exact novel role (`tune_rule(..., exact_novel_role=True)`), on the same cached model outputs.

Run from anywhere:  python benchmarks/novelty_exact_role.py

It reads, never writes, the drift benchmark's cache (/tmp/contactlens-bench/drift-banking77, made by
`python benchmarks/drift.py`): the out-of-fold probabilities and embeddings of the training rows
(train_oof.npz) and the test contacts' embeddings and probabilities (test_scores.npz). The folds are those
`benchmarks/drift.py`'s `_rebuild_reference` rebuilds (the full redaction pass, near-duplicate groups,
`training.fit.head_folds`), the rule is tuned as `build_reference` tunes it (config seed, bank size and
known rate) and the test contacts are scored with `novelty.misfits` and the model's review threshold, as
`benchmarks/drift.py`'s `unseen_detection` does: its "fits no description" F1 with the default rule is
the offline rebuild of that benchmark's figure. Prints the table, with the rule's coefficients
(confidence, centroid and neighbour percentiles, gap, Mahalanobis) and the seconds each rule took to tune.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout, installed or not

from benchmarks.drift import CACHE, DATA, LEFT_OUT  # noqa: E402
from contactlens.data import Columns, load  # noqa: E402
from contactlens.drift import novelty  # noqa: E402
from contactlens.redaction import clean_many  # noqa: E402
from training.config import load_config  # noqa: E402
from training.fit import head_folds  # noqa: E402
from training.folds import near_duplicate_groups  # noqa: E402

RULES = {
    "4 inputs": {"mahalanobis": False},
    "5 inputs": {"mahalanobis": True, "exact_novel_role": False},
    "5 inputs, exact novel role": {"mahalanobis": True, "exact_novel_role": True},
}


def main() -> None:
    cfg = load_config()
    cols = Columns(text="text", label="category")
    tr, te = load(DATA / "train.csv", cols), load(DATA / "test.csv", cols)
    known = tr[~tr["description"].isin(LEFT_OUT)].reset_index(drop=True)
    saved, test = np.load(CACHE / "train_oof.npz"), np.load(CACHE / "test_scores.npz")
    oof, emb = saved["oof"], saved["embeddings"]
    classes, y = np.unique(known["description"].to_numpy(dtype=str), return_inverse=True)
    cleaned = clean_many(known["text"].astype(str).tolist())
    groups, _ = near_duplicate_groups(cleaned, emb)
    folds = head_folds(y, groups, cfg)
    threshold = float(json.loads((CACHE / "model" / "metadata.json").read_text())["review_threshold"])
    centroids = np.stack([emb[y == c].mean(axis=0) for c in range(len(classes))])
    centroids = (centroids / np.linalg.norm(centroids, axis=1, keepdims=True)).astype(np.float32)
    truth = te["description"].isin(LEFT_OUT).to_numpy()
    conf = test["proba"].max(axis=1)
    print(
        f"{len(y):,} training rows, {len(classes)} descriptions, {len(folds)} folds; review {threshold:.3f}"
    )
    print("| rule | F1 (P / R) | test AUC | known flagged | recall expected at training | coef | tune s |")
    print("|---|---|---|---|---|---|---|")
    for name, kw in RULES.items():
        started = time.perf_counter()
        ref = novelty.tune_rule(emb, y, oof, folds, cfg.seed, known_rate=cfg.novelty_known_rate, **kw)
        seconds = time.perf_counter() - started
        ref["centroids"] = centroids
        flags, _, _ = novelty.misfits(test["embeddings"], conf, ref, threshold)
        score = novelty.evidence(test["embeddings"], conf, ref).score
        p, r, f, _ = precision_recall_fscore_support(truth, flags, average="binary", zero_division=0)
        print(
            f"| {name} | {100 * f:.1f} ({100 * p:.1f} / {100 * r:.1f}) | {roc_auc_score(truth, score):.4f} "
            f"| {flags[~truth].mean():.1%} | {ref['novelty_recall'][0]:.1%} "
            f"| {', '.join(f'{c:.2f}' for c in ref['novelty_coef'][:-1])} | {seconds:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
