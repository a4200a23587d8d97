"""Fit a ContactModel from labelled verbatims.

Every choice (C, ensemble weights, temperature, review threshold) is made on out-of-fold probabilities of the
training data, never on the test set.
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from joblib import Parallel, delayed
from scipy.optimize import minimize_scalar
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import MultiLabelBinarizer
from tqdm.auto import tqdm

from contactlens import artifact
from contactlens import data as datamod
from contactlens.artifact import ENCODER_META_FILE
from contactlens.data import SENTIMENTS
from contactlens.drift import reference_extras
from contactlens.encoder import OnnxEncoder
from contactlens.errors import DataError
from contactlens.model import ContactModel, Head, MultiHead, StackedLinear, combine, combine_binary
from contactlens.redaction import clean_many
from contactlens.taxonomy import Taxonomy
from training.config import HeadConfig, TfidfConfig, TrainConfig
from training.evaluate import (
    description_metrics,
    multilabel_metrics,
    sentiment_metrics,
    threshold_for_accuracy,
)
from training.export import export_encoder, quantize_encoder
from training.folds import grouped_folds, near_duplicate_groups

log = logging.getLogger(__name__)


def validate_training_data(
    frame: pd.DataFrame, taxonomy: Taxonomy, source: str, min_examples: int = 2
) -> pd.DataFrame:
    """Migrate old labels and refuse data a model cannot be trained on, with one clear message.

    Every description of a row counts (a multi-label row `a;b` is an example of both); the first is the
    primary one that the ranking head learns.
    """
    frame = datamod.apply_migrations(frame, taxonomy)
    empty_label = np.nonzero(frame["labels"].map(len).to_numpy() == 0)[0]
    if len(empty_label):
        rows = ", ".join(str(i + 1) for i in empty_label[:5])
        raise DataError(f"{source}: no description in {len(empty_label)} rows (rows {rows})")
    datamod.check_known(frame["labels"], taxonomy, source)
    flat = frame["labels"].explode()
    retired = sorted({d for d in flat if not taxonomy.descriptions[d].active})
    if retired:
        raise DataError(
            f"{source}: labels of retired descriptions with no migration: {', '.join(retired[:5])}"
        )
    frame = frame[frame["text"].str.strip() != ""].reset_index(drop=True)
    if frame.empty:
        raise DataError(f"{source}: no rows with text")
    counts = frame["description"].value_counts()
    if len(counts) < 2:
        raise DataError(f"{source}: only one label ('{counts.index[0]}'); a model needs at least two")
    every = frame["labels"].explode().value_counts()
    rare = every[every < min_examples]
    if len(rare):
        raise DataError(
            f"{source}: {len(rare)} labels have fewer than {min_examples} examples, "
            f"first: {', '.join(rare.index[:5])}"
        )
    return frame


def sentiment_rows(frame: pd.DataFrame) -> np.ndarray:
    """The rows the sentiment head learns from: those with an overall sentiment.

    The overall sentiment is given, or the one sentiment all of a row's description pairs share. Empty when
    fewer than half the rows have one, or only one kind occurs.
    """
    if "sentiment" not in frame.columns:
        return np.zeros(0, dtype=int)
    values = frame["sentiment"].str.strip().str.lower()
    known = values.isin(SENTIMENTS).to_numpy()
    if known.sum() < 0.5 * len(frame) or values[known].nunique() < 2:
        return np.zeros(0, dtype=int)
    return np.nonzero(known)[0]


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
    with warnings.catch_warnings():  # one-vs-rest on a fold where a description has no example
        warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
        fitted = clone(est).fit(x[train], y[train])
    p = np.asarray(fitted.predict_proba(x[test]))
    if y.ndim == 2:  # multi-label indicator matrix: one column per description already
        return p
    out = np.zeros((len(test), int(y.max()) + 1))
    out[:, fitted.classes_] = p  # a class this training fold lacked keeps probability 0
    return out


def _oof(est: Any, x: Any, y: np.ndarray, folds: list, n_classes: int, n_jobs: int) -> np.ndarray:
    parts = Parallel(n_jobs=n_jobs)(delayed(_fit_predict)(est, x, y, tr, te) for tr, te in folds)
    out = np.zeros((len(y), n_classes))
    for (_, te), p in zip(folds, parts, strict=True):
        out[te] = p
    return out


def _nll(proba: np.ndarray, y_idx: np.ndarray) -> float:
    return float(-np.log(np.clip(proba[np.arange(len(y_idx)), y_idx], 1e-12, 1)).mean())


def tune_combination(
    member_oof: list[np.ndarray],
    y: np.ndarray,
    step: float = 0.1,
    combine_fn: Callable[[list[np.ndarray], np.ndarray, float], np.ndarray] = combine,
    loss_of: Callable[[np.ndarray, np.ndarray], float] | None = None,
) -> tuple[np.ndarray, float]:
    """Ensemble weights (a grid on the simplex) and temperature minimising out-of-fold log loss.

    By default the members are softmax heads (`combine`, class indices `y`); the multi-label head passes
    `combine_binary` and the binary log loss.
    """
    loss = loss_of or _nll
    grid = np.round(np.arange(0, 1 + 1e-9, step), 6)
    best: tuple[float, np.ndarray, float] = (np.inf, np.ones(1), 1.0)
    for w in itertools.product(grid, repeat=len(member_oof)):
        if not np.isclose(sum(w), 1.0):
            continue
        weights = np.asarray(w)
        res = minimize_scalar(
            lambda t, wt=weights: loss(combine_fn(member_oof, wt, t), y), bounds=(0.05, 10), method="bounded"
        )
        if res.fun < best[0]:
            best = (float(res.fun), weights, float(res.x))
    return best[1], best[2]


def _one_vs_rest(C: float, max_iter: int) -> OneVsRestClassifier:  # noqa: N803 (scikit-learn's name)
    return OneVsRestClassifier(LogisticRegression(C=C, max_iter=max_iter))


def _choose_members(
    features: dict[str, Any],
    y: np.ndarray,
    folds: list,
    n_classes: int,
    cfg: HeadConfig,
    train_cfg: TrainConfig,
    desc: str,
    make: Callable[..., Any],
    loss_of: Callable[[np.ndarray, np.ndarray], float],
) -> tuple[list[tuple[str, Any]], list[np.ndarray], list[dict[str, Any]]]:
    """For each member (feature set), the C of its grid with the lowest out-of-fold loss.

    Returns the unfitted members, their out-of-fold probabilities and what was chosen.
    """
    members: list[tuple[str, Any]] = []
    oofs: list[np.ndarray] = []
    chosen: list[dict[str, Any]] = []
    steps = sum(len(m.C) for m in cfg.members)
    with tqdm(total=steps, desc=f"fitting {desc}", unit="fit", leave=False, disable=None) as bar:
        for m in cfg.members:
            best: tuple[float, float, np.ndarray] = (np.inf, 0.0, np.empty(0))
            for c in m.C:
                oof = _oof(
                    make(C=c, max_iter=m.max_iter),
                    features[m.features],
                    y,
                    folds,
                    n_classes,
                    train_cfg.n_jobs,
                )
                loss = loss_of(oof, y)
                if loss < best[0]:
                    best = (loss, c, oof)
                bar.update(1)
            chosen.append({"features": m.features, "C": best[1], "oof_log_loss": round(best[0], 5)})
            oofs.append(best[2])
            members.append((m.features, make(C=best[1], max_iter=m.max_iter)))
    return members, oofs, chosen


def head_folds(y_idx: np.ndarray, groups: np.ndarray | None, train_cfg: TrainConfig) -> list:
    """The cross-validation folds of a head: stratified, grouped when `groups` is given.

    At least 2 folds; with a class rarer than that (a description that is mostly secondary in multi-label
    data) a fold may lack it, and it gets probability 0 there.
    """
    n_folds = int(max(2, min(train_cfg.cv_folds, np.bincount(y_idx).min())))
    return grouped_folds(y_idx, groups, n_folds, train_cfg.seed)


def fit_head(
    features: dict[str, Any],
    labels: np.ndarray,
    cfg: HeadConfig,
    train_cfg: TrainConfig,
    desc: str,
    groups: np.ndarray | None = None,
) -> tuple[Head, np.ndarray, dict[str, Any]]:
    """Fit an ensemble head; returns it, its out-of-fold calibrated probabilities and the choices made.

    `groups` keeps samples of one contact (its clauses), or near-duplicate contacts, in one fold.
    """
    classes, y_idx = np.unique(labels, return_inverse=True)
    folds = head_folds(y_idx, groups, train_cfg)
    n_folds = len(folds)
    members, oofs, chosen = _choose_members(
        features, y_idx, folds, len(classes), cfg, train_cfg, desc, LogisticRegression, _nll
    )
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


def _binary_nll(proba: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(proba, 1e-7, 1 - 1e-7)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def tune_thresholds(
    proba: np.ndarray, y: np.ndarray, forced: np.ndarray | None = None, prior_weight: float = 10.0
) -> tuple[np.ndarray, float]:
    """A threshold per description maximising its F1 on out-of-fold probabilities.

    `forced` marks descriptions chosen whatever their probability (the ranking head's top one). The global
    threshold maximising micro F1 is the prior: a description with few positives gets a threshold shrunk
    toward it (weights: its positives vs `prior_weight`), so a handful of examples cannot pick an extreme
    one. Returns the thresholds and the global one.
    """
    grid = np.round(np.arange(0.02, 0.951, 0.01), 2)
    pred = proba[:, :, None] >= grid[None, None, :]
    if forced is not None:
        pred |= forced[:, :, None]
    pos = y[:, :, None].astype(bool)
    tp = (pred & pos).sum(axis=0)
    fp = (pred & ~pos).sum(axis=0)
    fn = (~pred & pos).sum(axis=0)
    micro = 2 * tp.sum(0) / np.maximum(2 * tp.sum(0) + fp.sum(0) + fn.sum(0), 1)
    best = np.nonzero(micro == micro.max())[0]
    glob = float(grid[best[len(best) // 2]])  # the middle of a tie
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    n_pos = y.sum(axis=0)
    out = np.full(y.shape[1], glob)
    for k in range(y.shape[1]):
        if n_pos[k] == 0:
            continue
        ties = np.nonzero(f1[k] == f1[k].max())[0]
        own = float(grid[ties[len(ties) // 2]])
        out[k] = (n_pos[k] * own + prior_weight * glob) / (n_pos[k] + prior_weight)
    return out, glob


def fit_multilabel_head(
    features: dict[str, Any],
    labels: list[tuple[str, ...]],
    cfg: HeadConfig,
    train_cfg: TrainConfig,
    main_choice: np.ndarray | None = None,
) -> tuple[MultiHead, np.ndarray, dict[str, Any]]:
    """Fit the multi-label head: one-vs-rest logistic regression per feature set, combined on the logit scale;
    C, weights and temperature minimise out-of-fold log loss; thresholds maximise out-of-fold F1 given that
    the ranking head's out-of-fold top description (`main_choice`, ids) is always chosen."""
    binarizer = MultiLabelBinarizer()
    y = binarizer.fit_transform(labels)
    classes = np.asarray(binarizer.classes_)
    folds = list(KFold(train_cfg.cv_folds, shuffle=True, random_state=train_cfg.seed).split(y))
    members, oofs, chosen = _choose_members(
        features, y, folds, len(classes), cfg, train_cfg, "multi-label", _one_vs_rest, _binary_nll
    )
    weights, temperature = tune_combination(oofs, y, combine_fn=combine_binary, loss_of=_binary_nll)
    oof = combine_binary(oofs, weights, temperature)
    forced = None
    if main_choice is not None:
        forced = np.asarray(main_choice)[:, None] == classes[None, :]
    thresholds, glob = tune_thresholds(oof, y, forced)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
        fitted = Parallel(n_jobs=train_cfg.n_jobs)(
            delayed(clone(est).fit)(features[name], y) for name, est in members
        )
    head = MultiHead(
        classes,
        [(name, StackedLinear(est)) for (name, _), est in zip(members, fitted, strict=True)],
        weights,
        temperature,
        thresholds,
    )
    info = {
        "folds": len(folds),
        "members": chosen,
        "weights": weights.tolist(),
        "temperature": temperature,
        "global_threshold": glob,
        "thresholds": {str(c): round(float(t), 3) for c, t in zip(classes, thresholds, strict=True)},
    }
    return head, oof, info


def clause_samples(
    model: ContactModel, cleaned: list[str], frame: pd.DataFrame
) -> tuple[dict[str, Any], np.ndarray, np.ndarray] | None:
    """Sentiment examples from the clauses of contacts about several descriptions.

    A contact that praises a person and complains about a process is negative overall, yet its praise is
    positive: each clause (given to a description as at prediction time) is an example with the sentiment
    of that description's pair. Returns the clause features, their sentiments and their contacts' rows.
    """
    pairs = datamod.pair_sentiments(frame)
    ids = [list(x) if len(set(pairs[i]) - {""}) > 1 else [] for i, x in enumerate(frame["labels"])]
    if not any(ids):
        return None
    _, feats, assigned = model.assign_clauses(cleaned, ids)
    if not assigned:
        return None
    keep, sentiments, rows = [], [], []
    for i, j, d in assigned:
        want = pairs[i][list(frame["labels"].iloc[i]).index(d)]
        if want in SENTIMENTS:
            keep.append(j)
            sentiments.append(want)
            rows.append(i)
    if not keep:
        return None
    picked = {"embedding": feats["embedding"][keep], "tfidf": feats["tfidf"][keep]}
    return picked, np.asarray(sentiments), np.asarray(rows)


def build_reference(
    embeddings: np.ndarray,
    labels: np.ndarray,
    oof_conf: np.ndarray,
    threshold: float,
    cfg: TrainConfig,
    oof: np.ndarray | None = None,
    cleaned: list[str] | None = None,
    folds: list | None = None,
) -> dict[str, np.ndarray]:
    """Statistics drift checks compare a window of contacts against.

    With the out-of-fold probabilities and the cleaned texts, also the confusion matrix, the tuned
    "fits no description" rule and the word counts that drift's novelty and merge checks use. `folds` are
    those of the out-of-fold probabilities: every statistic is then measured on contacts held out of them.
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
    review = oof_conf < threshold
    if cleaned is not None:  # the explanations' bank: cleaned, so redacted, as served suggestions show text
        extras["sample_texts"] = np.asarray(cleaned, dtype=str)[take]
    if oof is not None and cleaned is not None:
        extras |= reference_extras(
            embeddings, y_idx, oof, cleaned, cfg.seed, folds=folds, known_rate=cfg.novelty_known_rate
        )
        # The held-out contacts the rule says fit no description also need review (`model.needs_review`).
        review = review | extras.pop("heldout_flags")
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
        "review_rate": np.array([float(review.mean())]),
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
    frame = validate_training_data(frame, taxonomy, source, cfg.min_examples)
    out_dir.mkdir(parents=True, exist_ok=True)
    encoder_path = out_dir / artifact.ENCODER_DIR
    if encoder_dir is not None:  # reuse an exported encoder (retraining, tests): torch is not needed then
        shutil.copytree(encoder_dir, encoder_path, dirs_exist_ok=True)
    else:
        export_encoder(encoder_path)
    precision = json.loads((encoder_path / ENCODER_META_FILE).read_text(encoding="utf-8")).get(
        "precision", "fp32"
    )
    if cfg.encoder_precision == "int8" and precision == "fp32":
        quantize_encoder(encoder_path, encoder_path)
    encoder = OnnxEncoder.load(encoder_path, intra_op_threads=cfg.n_jobs)
    # The full pass (rules + NER names, batched): training texts reach the vectoriser's vocabulary, the
    # reference's word counts and the drift examples, so they are redacted as stored text is.
    cleaned = clean_many(frame["text"].astype(str).tolist())
    embeddings = encoder.encode(cleaned, batch_size=cfg.batch_size, progress=True)
    vectorizer = make_vectorizer(cfg.tfidf)
    features = {"embedding": embeddings, "tfidf": vectorizer.fit_transform(cleaned).tocsr()}
    labels = frame["description"].to_numpy(dtype=str)
    # Near-duplicates share a fold, so that out-of-fold figures (the review threshold above all) hold on
    # new contacts: see training/folds.py.
    groups, similarity = near_duplicate_groups(cleaned, embeddings)
    desc_head, oof, desc_info = fit_head(features, labels, cfg.description, cfg, "descriptions", groups)
    desc_info["near_duplicate_similarity"] = similarity
    desc_info["groups"] = int(len(np.unique(groups)))
    folds = head_folds(np.unique(labels, return_inverse=True)[1], groups, cfg)
    conf = oof.max(axis=1)
    correct = desc_head.classes[oof.argmax(axis=1)] == labels
    threshold, coverage = threshold_for_accuracy(conf, correct, cfg.target_accuracy)
    validation = description_metrics(labels.tolist(), oof, list(desc_head.classes), taxonomy)
    multi_head, multi_info = None, None
    if datamod.is_multilabel(frame):
        main = desc_head.classes[oof.argmax(axis=1)]
        multi_head, multi_oof, multi_info = fit_multilabel_head(
            features, list(frame["labels"]), cfg.multilabel, cfg, main
        )
        chosen = multi_head.decide(multi_oof) | (main[:, None] == multi_head.classes[None, :])
        predicted = [[str(multi_head.classes[j]) for j in np.nonzero(row)[0]] for row in chosen]
        validation.update(multilabel_metrics([list(x) for x in frame["labels"]], predicted))
    model = ContactModel(encoder, vectorizer, desc_head, None, taxonomy, {}, multilabel_head=multi_head)
    sent_head, sent_info = None, None
    rows = sentiment_rows(frame)
    if len(rows):
        sent = frame["sentiment"].str.strip().str.lower().to_numpy(dtype=str)[rows]
        feats = {k: v[rows] for k, v in features.items()}
        # Whole contacts only: the same folds as a single-label model always had.
        sent_groups: np.ndarray | None = None
        extra = clause_samples(model, cleaned, frame)
        if extra is not None:
            clause_feats, clause_sent, clause_rows = extra
            feats = {
                "embedding": np.vstack([feats["embedding"], clause_feats["embedding"]]),
                "tfidf": sp.vstack([feats["tfidf"], clause_feats["tfidf"]]).tocsr(),
            }
            sent = np.concatenate([sent, clause_sent])
            sent_groups = np.concatenate([rows, clause_rows])
        sent_head, sent_oof, sent_info = fit_head(feats, sent, cfg.sentiment, cfg, "sentiment", sent_groups)
        sent_info["clause_samples"] = len(sent) - len(rows)
        # Scored on whole contacts only, as evaluate does.
        whole = slice(0, len(rows))
        validation.update(sentiment_metrics(sent[whole].tolist(), sent_oof[whole], list(sent_head.classes)))
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
        "multilabel": multi_head is not None,
        "heads": {"description": desc_info, "sentiment": sent_info, "multilabel": multi_info},
        "metrics": {"validation": validation},
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    reference = build_reference(
        embeddings, labels, conf, threshold, cfg, oof=oof, cleaned=cleaned, folds=folds
    )
    model.sentiment_head, model.metadata, model.reference = sent_head, metadata, reference
    model.save(out_dir)
    return model, frame, oof
