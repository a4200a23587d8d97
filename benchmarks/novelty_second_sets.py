"""The "fits no description" rule on the second data sets: 4 inputs against 5 (with Mahalanobis), same draws.

Run from anywhere:  python benchmarks/novelty_second_sets.py [--seeds 1 2 3] [--sets banking77 airline]

It writes benchmarks/results/novelty_second_sets.json (every figure and setting; `--out` elsewhere) and
prints the table.

Issue 13's inputs of the per-contact rule (`novelty.tune_rule`) were held to two data sets besides the
drift benchmark (`benchmarks/drift.py`), each with descriptions left out of training, to see whether a gain
on BANKING77's 19 left-out intents holds elsewhere (docs/novelty-issue13.md, "Second sets"):

- banking77: the 58 intents the drift benchmark trains on (its LEFT_OUT are out of training anyway), of
  which 14 more are left out, drawn by ``random.Random(seed).sample(sorted(58 intents), 14)``; training rows:
  train.csv of the other 44; evaluation: the test contacts of the 58 (2,320, of which 560 unseen).
- airline: Twitter US Airline Sentiment's negative reasons (tweets deduplicated by tweet id, the first row
  kept; "Can't Tell" dropped: 9 reasons), one stratified 70/30 split (seed 0); 2 reasons left out, drawn by
  ``random.Random(seed).sample(sorted(9 reasons), 2)``; training rows: the 70% of the other 7; evaluation:
  the whole 30%.

The model is a proxy, not the trained ensemble: a logistic regression (C 10) on the sentence embeddings,
its out-of-fold probabilities on the training rows from 5 stratified folds (seeded by the draw), and its
probabilities on the test contacts from a fit on all training rows. Texts are cleaned as the model cleans
them (training rows: `redaction.clean_many`, the full pass; test contacts: `text.clean`, as served) and
embedded with the project's encoder (exported once with `training.export.export_encoder`, int8 when the
default config says so, as `training.fit.train` does). Embeddings are cached under
/tmp/contactlens-bench/second-sets, keyed by a hash of the encoder and the texts.

On each draw the rule is tuned three times on the same out-of-fold probabilities, folds and embeddings:
with four inputs (confidence, centroid and neighbour percentiles, centroid gap; `tune_rule`'s default since
2026-11-30 10:00), with five (``mahalanobis=True, exact_novel_role=False``: the Mahalanobis percentile
added, the default before), and with five and the exact novel role (``mahalanobis=True,
exact_novel_role=True``: the Mahalanobis distances of the "as if its description did
not exist" role under the tied covariance refitted without that description), `novelty_known_rate` 0.15.
The reference gets the description centroids as `training.fit.build_reference` makes them, and
`novelty.evidence` scores the test contacts.
Reported: precision, recall and F1 (in %) of "fits no description" with unseen (left-out) contacts as the
positive class, the test AUC of the score, the share of known test contacts flagged, and the recall the
rule expects at training (held-out contacts as if their description did not exist).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import platform
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout, installed or not

from benchmarks.drift import LEFT_OUT  # noqa: E402
from contactlens.data import Columns, load  # noqa: E402
from contactlens.drift import novelty  # noqa: E402
from contactlens.encoder import OnnxEncoder  # noqa: E402
from contactlens.redaction import clean_many  # noqa: E402
from contactlens.text import clean  # noqa: E402
from training.config import load_config  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "benchmarks" / "results"
CACHE = Path("/tmp/contactlens-bench/second-sets")
C = 10.0  # the proxy's inverse regularisation
FOLDS = 5
BANKING_MORE_LEFT_OUT = 14
AIRLINE_LEFT_OUT = 2
AIRLINE_TEST_SHARE = 0.3
EXACT = "five_inputs_exact_role"
RULES = ("four_inputs", "five_inputs", EXACT)


# ------------------------------------------------------------------------------------------ embeddings


def encoder() -> OnnxEncoder:
    """The project's encoder, exported once (fp32) and quantised as the default config trains it."""
    from training.export import export_encoder, quantize_encoder

    fp32 = CACHE / "encoder"
    if not (fp32 / "encoder.onnx").is_file():
        print("exporting the encoder", flush=True)
        export_encoder(fp32)
    if load_config().encoder_precision == "fp32":
        return OnnxEncoder.load(fp32, intra_op_threads=2)
    int8 = CACHE / "encoder-int8"
    if not (int8 / "encoder.onnx").is_file():
        quantize_encoder(fp32, int8)
    return OnnxEncoder.load(int8, intra_op_threads=2)


class Embedder:
    """Cleans and embeds texts, each list once (cached by a hash of the precision, cleaning and texts)."""

    def __init__(self) -> None:
        self._encoder: OnnxEncoder | None = None

    def __call__(self, texts: list[str], full_pass: bool) -> np.ndarray:
        mode = "clean_many" if full_pass else "clean"
        h = hashlib.sha256(f"{load_config().encoder_precision}|{mode}".encode())
        for t in texts:
            h.update(t.encode())
            h.update(b"\0")
        path = CACHE / f"embeddings-{h.hexdigest()[:16]}.npy"
        if path.is_file():
            return np.load(path)
        if self._encoder is None:
            self._encoder = encoder()
            # spaCy's entity labels that Presidio keeps unmapped: one warning a tweet, nothing wrong.
            logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
        started = time.perf_counter()
        cleaned = clean_many(texts) if full_pass else [clean(t) for t in texts]
        emb = self._encoder.encode(cleaned, progress=True)
        print(f"embedded {len(texts):,} texts ({mode}) in {time.perf_counter() - started:.0f} s", flush=True)
        np.save(path, emb)
        return emb


# -------------------------------------------------------------------------------------------- data sets


def banking77(embed: Embedder) -> dict[str, Any]:
    """BANKING77's 58 intents of the drift benchmark: training and test rows with their embeddings."""
    cols = Columns(text="text", label="category")
    data = DATASETS / "banking77"
    tr, te = load(data / "train.csv", cols), load(data / "test.csv", cols)
    tr = tr[~tr["description"].isin(LEFT_OUT)].reset_index(drop=True)
    te = te[~te["description"].isin(LEFT_OUT)].reset_index(drop=True)
    return _frames(tr, te, embed, BANKING_MORE_LEFT_OUT)


def airline(embed: Embedder) -> dict[str, Any]:
    """The airline tweets' negative reasons but "Can't Tell", deduplicated by tweet id, split 70/30."""
    tweets = pd.read_csv(DATASETS / "airline_tweets" / "tweets.csv", dtype={"tweet_id": str})
    tweets = tweets.drop_duplicates("tweet_id", keep="first")
    tweets = tweets[(tweets["sentiment"] == "negative") & tweets["reason"].notna()]
    tweets = tweets[tweets["reason"] != "Can't Tell"]
    frame = pd.DataFrame({"text": tweets["text"].astype(str), "description": tweets["reason"].astype(str)})
    tr, te = train_test_split(
        frame, test_size=AIRLINE_TEST_SHARE, stratify=frame["description"], random_state=0
    )
    return _frames(tr.reset_index(drop=True), te.reset_index(drop=True), embed, AIRLINE_LEFT_OUT)


def _frames(tr: pd.DataFrame, te: pd.DataFrame, embed: Embedder, left_out: int) -> dict[str, Any]:
    return {
        "train_labels": tr["description"].to_numpy(dtype=str),
        "test_labels": te["description"].to_numpy(dtype=str),
        "train_embeddings": embed(tr["text"].astype(str).tolist(), full_pass=True),
        "test_embeddings": embed(te["text"].astype(str).tolist(), full_pass=False),
        "left_out": left_out,
    }


SETS = {"banking77": banking77, "airline": airline}


# ----------------------------------------------------------------------------------------------- a draw


def proxy(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, seed: int) -> tuple[list, np.ndarray, np.ndarray]:
    """Stratified folds, the proxy's out-of-fold probabilities on them, and its test probabilities."""
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(x, y))
    k = int(y.max()) + 1
    oof = np.zeros((len(y), k))
    for train, test in folds:
        lr = LogisticRegression(C=C, max_iter=2000).fit(x[train], y[train])
        oof[np.ix_(test, lr.classes_)] = lr.predict_proba(x[test])
    lr = LogisticRegression(C=C, max_iter=2000).fit(x, y)
    return folds, oof, lr.predict_proba(x_test)


def centroids(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """The description centroids `evidence` reads, as `training.fit.build_reference` makes them."""
    out = np.stack([x[y == c].mean(axis=0) for c in range(k)])
    return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def score_rule(
    x: np.ndarray,
    y: np.ndarray,
    oof: np.ndarray,
    folds: list,
    test: tuple[np.ndarray, np.ndarray, np.ndarray],
    **kw: Any,
) -> dict[str, Any]:
    """Tune the rule on the training rows, score the test contacts (embeddings, top confidence, unseen or
    not), and measure it with unseen contacts as the positive class."""
    started = time.perf_counter()
    ref = novelty.tune_rule(x, y, oof, folds, seed=0, known_rate=load_config().novelty_known_rate, **kw)
    seconds = time.perf_counter() - started
    ref["centroids"] = centroids(x, y, oof.shape[1])
    embeddings, conf, truth = test
    ev = novelty.evidence(embeddings, conf, ref)
    p, r, f, _ = precision_recall_fscore_support(truth, ev.fits_none, average="binary", zero_division=0)
    return {
        "f1": round(100 * f, 1),
        "precision": round(100 * p, 1),
        "recall": round(100 * r, 1),
        "test_auc": round(float(roc_auc_score(truth, ev.score)), 4),
        "known_flagged": round(float(ev.fits_none[~truth].mean()), 4),
        "recall_estimated_at_training": round(float(ref["novelty_recall"][0]), 4),
        "coef": [round(float(c), 3) for c in ref["novelty_coef"]],
        "tune_seconds": round(seconds, 1),
    }


def draw(data: dict[str, Any], seed: int) -> dict[str, Any]:
    """One draw of left-out descriptions: the proxy, then the rule with 4 inputs, 5, and 5 with the exact
    novel role."""
    classes = sorted(set(data["train_labels"]))
    left = sorted(random.Random(seed).sample(classes, data["left_out"]))
    keep = ~np.isin(data["train_labels"], left)
    known, y = np.unique(data["train_labels"][keep], return_inverse=True)
    x = data["train_embeddings"][keep]
    unseen = np.isin(data["test_labels"], left)
    folds, oof, proba = proxy(x, y, data["test_embeddings"], seed)
    test = (data["test_embeddings"], proba.max(axis=1), unseen)
    return {
        "seed": seed,
        "left_out": left,
        "n_train": int(keep.sum()),
        "n_known_descriptions": len(known),
        "n_test": len(unseen),
        "n_unseen": int(unseen.sum()),
        "four_inputs": score_rule(x, y, oof, folds, test, mahalanobis=False),
        "five_inputs": score_rule(x, y, oof, folds, test, mahalanobis=True, exact_novel_role=False),
        "five_inputs_exact_role": score_rule(x, y, oof, folds, test, mahalanobis=True, exact_novel_role=True),
    }


def benchmark(sets: list[str], seeds: list[int]) -> dict[str, Any]:
    embed = Embedder()
    CACHE.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for name in sets:
        data = SETS[name](embed)
        draws = []
        for seed in seeds:
            print(f"{name}, seed {seed}", flush=True)
            draws.append(draw(data, seed))
        mean = {
            rule: {
                key: round(float(np.mean([d[rule][key] for d in draws])), 4 if "auc" in key else 2)
                for key in ("f1", "precision", "recall", "test_auc", "known_flagged")
            }
            for rule in RULES
        }
        results[name] = {"draws": draws, "mean": mean}
    return {
        "benchmark": "novelty_second_sets",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            "proxy": f"LogisticRegression(C={C}) on the embeddings, {FOLDS} stratified folds",
            "folds_seed": "the draw's seed",
            "novelty_known_rate": load_config().novelty_known_rate,
            "encoder_precision": load_config().encoder_precision,
            "seeds": seeds,
            "banking77_more_left_out": BANKING_MORE_LEFT_OUT,
            "airline_left_out": AIRLINE_LEFT_OUT,
            "airline_test_share": AIRLINE_TEST_SHARE,
        },
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "results": results,
    }


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def table(out: dict[str, Any]) -> str:
    lines = [
        "| set | draw (left out) | unseen / test | 4 inputs: F1 (P / R), test AUC "
        "| 5 inputs: F1 (P / R), test AUC | 5 inputs, exact role: F1 (P / R), test AUC "
        "| F1 5 - 4 | F1 exact - 4 | F1 exact - 5 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def gain(d: dict[str, Any], rule: str = "five_inputs", base: str = "four_inputs") -> float:
        return float(d[rule]["f1"] - d[base]["f1"])

    pairs = [("five_inputs", "four_inputs"), (EXACT, "four_inputs"), (EXACT, "five_inputs")]

    def cell(r: dict[str, Any]) -> str:
        return f"{r['f1']:.1f} ({r['precision']:.1f} / {r['recall']:.1f}), {r['test_auc']:.4f}"

    for name, res in out["results"].items():
        for d in res["draws"]:
            left = ", ".join(d["left_out"]) if len(d["left_out"]) <= 3 else f"{len(d['left_out'])} intents"
            lines.append(
                f"| {name} | {d['seed']} ({left}) | {d['n_unseen']:,} / {d['n_test']:,} | "
                f"{cell(d['four_inputs'])} | {cell(d['five_inputs'])} | {cell(d[EXACT])} | "
                + " | ".join(f"{gain(d, *pair):+.1f}" for pair in pairs)
                + " |"
            )
        m = res["mean"]
        means = []
        for pair in pairs:
            gains = [gain(d, *pair) for d in res["draws"]]
            means.append(f"**{np.mean(gains):+.2f}** ({sum(g > 0 for g in gains)} of {len(gains)} better)")
        lines.append(
            f"| {name} | **mean of {len(res['draws'])}** | | **{cell(m['four_inputs'])}** "
            f"| **{cell(m['five_inputs'])}** | **{cell(m[EXACT])}** | " + " | ".join(means) + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="draws (random.Random seeds)")
    parser.add_argument("--sets", nargs="+", choices=sorted(SETS), default=list(SETS), help="data sets")
    parser.add_argument("--out", type=Path, default=RESULTS / "novelty_second_sets.json", help="results JSON")
    args = parser.parse_args()
    out = benchmark(args.sets, args.seeds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(table(out))


if __name__ == "__main__":
    main()
