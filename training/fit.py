"""Fit a ContactModel from labelled verbatims.

Every choice (C, ensemble weights, temperature, review threshold) is made on out-of-fold probabilities of the
training data, never on the test set.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.optimize import minimize_scalar
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion
from tqdm.auto import tqdm

from contactlens import data as datamod
from contactlens.data import SENTIMENTS
from contactlens.drift import reference_extras
from contactlens.encoder import OnnxEncoder
from contactlens.errors import DataError
from contactlens.model import ContactModel, Head, combine
from contactlens.taxonomy import Taxonomy
from contactlens.text import clean
from training.config import HeadConfig, TfidfConfig, TrainConfig
from training.evaluate import description_metrics, sentiment_metrics, threshold_for_accuracy
from training.export import export_encoder

log = logging.getLogger(__name__)


def validate_training_data(frame: pd.DataFrame, taxonomy: Taxonomy, source: str) -> pd.DataFrame:
    """Migrate old labels and refuse data a model cannot be trained on, with one clear message."""
    frame = datamod.apply_migrations(frame, taxonomy)
    frame = frame[frame["text"].str.strip() != ""].reset_index(drop=True)
    if frame.empty:
        raise DataError(f"{source}: no rows with text")
    known = set(taxonomy.descriptions)
    unknown = sorted(set(frame["description"]) - known)
    if unknown:
        raise DataError(
            f"{source}: {len(unknown)} labels not in taxonomy {taxonomy.version}, "
            f"first: {', '.join(unknown[:5])}"
        )
    retired = sorted({d for d in frame["description"] if not taxonomy.descriptions[d].active})
    if retired:
        raise DataError(
            f"{source}: labels of retired descriptions with no migration: {', '.join(retired[:5])}"
        )
    counts = frame["description"].value_counts()
    if len(counts) < 2:
        raise DataError(f"{source}: only one label ('{counts.index[0]}'); a model needs at least two")
    rare = counts[counts < 2]
    if len(rare):
        raise DataError(
            f"{source}: {len(rare)} labels have fewer than 2 examples, first: {', '.join(rare.index[:5])}"
        )
    return frame


def has_sentiment(frame: pd.DataFrame) -> bool:
    """True when every row carries a sentiment label of at least two kinds."""
    if "sentiment" not in frame.columns:
        return False
    values = frame["sentiment"].str.strip().str.lower()
    return bool(values.isin(SENTIMENTS).all() and values.nunique() >= 2)


def make_vectorizer(cfg: TfidfConfig) -> FeatureUnion:
    word = TfidfVectorizer(
        ngram_range=cfg.word_ngrams, min_df=cfg.min_df, sublinear_tf=True, max_features=cfg.max_features
    )
    char = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=cfg.char_ngrams,
        min_df=cfg.min_df,
        sublinear_tf=True,
        max_features=cfg.max_features,
    )
    return FeatureUnion([("word", word), ("char", char)])


def _fit_predict(est: Any, x: Any, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    return clone(est).fit(x[train], y[train]).predict_proba(x[test])


def _oof(est: Any, x: Any, y: np.ndarray, folds: list, n_classes: int, n_jobs: int) -> np.ndarray:
    parts = Parallel(n_jobs=n_jobs)(delayed(_fit_predict)(est, x, y, tr, te) for tr, te in folds)
    out = np.zeros((len(y), n_classes))
    for (_, te), p in zip(folds, parts, strict=True):
        out[te] = p
    return out


def _nll(proba: np.ndarray, y_idx: np.ndarray) -> float:
    return float(-np.log(np.clip(proba[np.arange(len(y_idx)), y_idx], 1e-12, 1)).mean())


def tune_combination(
    member_oof: list[np.ndarray], y_idx: np.ndarray, step: float = 0.1
) -> tuple[np.ndarray, float]:
    """Ensemble weights (a grid on the simplex) and temperature minimising out-of-fold log loss."""
    grid = np.round(np.arange(0, 1 + 1e-9, step), 6)
    best: tuple[float, np.ndarray, float] = (np.inf, np.ones(1), 1.0)
    for w in itertools.product(grid, repeat=len(member_oof)):
        if not np.isclose(sum(w), 1.0):
            continue
        weights = np.asarray(w)
        res = minimize_scalar(
            lambda t, wt=weights: _nll(combine(member_oof, wt, t), y_idx), bounds=(0.05, 10), method="bounded"
        )
        if res.fun < best[0]:
            best = (float(res.fun), weights, float(res.x))
    return best[1], best[2]


def fit_head(
    features: dict[str, Any], labels: np.ndarray, cfg: HeadConfig, train_cfg: TrainConfig, desc: str
) -> tuple[Head, np.ndarray, dict[str, Any]]:
    """Fit an ensemble head; returns it, its out-of-fold calibrated probabilities and the choices made."""
    classes, y_idx = np.unique(labels, return_inverse=True)
    n_folds = int(min(train_cfg.cv_folds, np.bincount(y_idx).min()))
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=train_cfg.seed)
    folds = list(skf.split(np.zeros(len(labels)), y_idx))
    members, oofs, chosen = [], [], []
    steps = sum(len(m.C) for m in cfg.members)
    with tqdm(total=steps, desc=f"fitting {desc}", unit="fit", leave=False) as bar:
        for m in cfg.members:
            best: tuple[float, float, np.ndarray] = (np.inf, 0.0, np.empty(0))
            for c in m.C:
                est = LogisticRegression(C=c, max_iter=m.max_iter)
                oof = _oof(est, features[m.features], y_idx, folds, len(classes), train_cfg.n_jobs)
                loss = _nll(oof, y_idx)
                if loss < best[0]:
                    best = (loss, c, oof)
                bar.update(1)
            chosen.append({"features": m.features, "C": best[1], "oof_log_loss": round(best[0], 4)})
            oofs.append(best[2])
            members.append((m.features, LogisticRegression(C=best[1], max_iter=m.max_iter)))
    weights, temperature = tune_combination(oofs, y_idx)
    fitted = Parallel(n_jobs=train_cfg.n_jobs)(
        delayed(clone(est).fit)(features[name], y_idx) for name, est in members
    )
    # Members are fitted on class indices; the head maps them back to labels.
    head = Head(
        classes, [(name, est) for (name, _), est in zip(members, fitted, strict=True)], weights, temperature
    )
    info = {"folds": n_folds, "members": chosen, "weights": weights.tolist(), "temperature": temperature}
    return head, combine(oofs, weights, temperature), info


def build_reference(
    embeddings: np.ndarray,
    labels: np.ndarray,
    oof_conf: np.ndarray,
    threshold: float,
    cfg: TrainConfig,
    oof: np.ndarray | None = None,
    cleaned: list[str] | None = None,
) -> dict[str, np.ndarray]:
    """Statistics drift checks compare a window of contacts against.

    With the out-of-fold probabilities and the cleaned texts, also the confusion matrix, the tuned
    "fits no description" rule and the word counts that drift's novelty and merge checks use.
    """
    classes, y_idx = np.unique(labels, return_inverse=True)
    centroids = np.zeros((len(classes), embeddings.shape[1]), dtype=np.float32)
    spreads = np.zeros((len(classes), 2), dtype=np.float32)
    for k in range(len(classes)):
        e = embeddings[y_idx == k]
        c = e.mean(axis=0)
        centroids[k] = c / max(np.linalg.norm(c), 1e-12)
        dist = 1.0 - e @ centroids[k]
        spreads[k] = (dist.mean(), np.quantile(dist, 0.95))
    rng = np.random.default_rng(cfg.seed)
    take = rng.permutation(len(embeddings))[: cfg.reference_sample]
    extras: dict[str, np.ndarray] = {}
    if oof is not None and cleaned is not None:
        extras = reference_extras(embeddings, y_idx, oof, cleaned, cfg.seed)
    return {
        **extras,
        "classes": classes.astype(str),
        "class_share": (np.bincount(y_idx, minlength=len(classes)) / len(y_idx)).astype(np.float64),
        "centroids": centroids,
        "spreads": spreads,
        "sample_embeddings": embeddings[take].astype(np.float32),
        "sample_labels": labels[take].astype(str),
        "sample_confidence": oof_conf[take].astype(np.float32),
        "oof_confidence": oof_conf.astype(np.float32),
        "review_rate": np.array([float((oof_conf < threshold).mean())]),
    }


def train(
    frame: pd.DataFrame,
    taxonomy: Taxonomy,
    cfg: TrainConfig,
    out_dir: Path,
    source: str = "training data",
    encoder_dir: Path | None = None,
) -> tuple[ContactModel, pd.DataFrame, np.ndarray]:
    """Train and save a model artifact in `out_dir`.

    Returns:
        The model, the validated training frame and its out-of-fold description probabilities (validation).
    """
    started = time.perf_counter()
    frame = validate_training_data(frame, taxonomy, source)
    out_dir.mkdir(parents=True, exist_ok=True)
    encoder_path = out_dir / "encoder"
    if encoder_dir is not None:  # reuse an exported encoder (retraining, tests): torch is not needed then
        shutil.copytree(encoder_dir, encoder_path, dirs_exist_ok=True)
    else:
        export_encoder(encoder_path)
    encoder = OnnxEncoder.load(encoder_path, intra_op_threads=cfg.n_jobs)
    cleaned = [clean(t) for t in tqdm(frame["text"], desc="cleaning", unit="text", leave=False)]
    embeddings = encoder.encode(cleaned, batch_size=cfg.batch_size, progress=True)
    vectorizer = make_vectorizer(cfg.tfidf)
    features = {"embedding": embeddings, "tfidf": vectorizer.fit_transform(cleaned).tocsr()}
    labels = frame["description"].to_numpy(dtype=str)
    desc_head, oof, desc_info = fit_head(features, labels, cfg.description, cfg, "descriptions")
    conf = oof.max(axis=1)
    correct = desc_head.classes[oof.argmax(axis=1)] == labels
    threshold, coverage = threshold_for_accuracy(conf, correct, cfg.target_accuracy)
    validation = description_metrics(labels.tolist(), oof, list(desc_head.classes), taxonomy)
    sent_head, sent_info = None, None
    if has_sentiment(frame):
        sent = frame["sentiment"].str.strip().str.lower().to_numpy(dtype=str)
        sent_head, sent_oof, sent_info = fit_head(features, sent, cfg.sentiment, cfg, "sentiment")
        validation.update(sentiment_metrics(sent.tolist(), sent_oof, list(sent_head.classes)))
    metadata = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels": list(desc_head.classes),
        "taxonomy_name": taxonomy.name,
        "taxonomy_version": taxonomy.version,
        "data_hash": datamod.data_hash(frame),
        "n_train": len(frame),
        "config": cfg.model_dump(mode="json"),
        "review_threshold": threshold,
        "review_threshold_coverage": coverage,
        "sentiment_available": sent_head is not None,
        "heads": {"description": desc_info, "sentiment": sent_info},
        "metrics": {"validation": validation},
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    reference = build_reference(embeddings, labels, conf, threshold, cfg, oof=oof, cleaned=cleaned)
    model = ContactModel(encoder, vectorizer, desc_head, sent_head, taxonomy, metadata, reference)
    model.save(out_dir)
    return model, frame, oof
