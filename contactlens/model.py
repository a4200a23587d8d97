"""What a trained model is and how it is used: features, calibrated heads, top-k, save/load.

Training (`training.fit`) builds a `ContactModel`; the service and the CLI only load one. Both call the same
`score` path: `text.clean` -> ONNX sentence embeddings + TF-IDF -> calibrated ensemble heads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression

from contactlens import artifact
from contactlens import taxonomy as taxmod
from contactlens.drift import novelty
from contactlens.encoder import OnnxEncoder, TokenStates
from contactlens.errors import ModelError
from contactlens.results import (
    DecidedDescription,
    Explanation,
    RankedDescription,
    Sentiment,
    Suggestion,
    review_decisions,
)
from contactlens.results import needs_review as needs_review  # the one review rule, importable from here too
from contactlens.results import review_reasons as review_reasons
from contactlens.text import clause_spans, clean
from contactlens.tfidf import sparse_features

_EPS = 1e-12


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def combine(member_probs: list[np.ndarray], weights: np.ndarray, temperature: float) -> np.ndarray:
    """Weighted geometric mean of the members' probabilities, then temperature scaling.

    The one combination rule, used to tune weights on out-of-fold probabilities and to predict.
    """
    z = sum(w * np.log(np.clip(p, _EPS, 1.0)) for p, w in zip(member_probs, weights, strict=True))
    return softmax(np.asarray(z) / temperature)


def member_proba(est: Any, x: Any) -> np.ndarray:
    """`est.predict_proba(x)`; for a fitted lbfgs logistic regression, the same numbers from one product.

    scikit-learn's own call validates its input each time, about ten times the product's cost for one text
    (0.13 against 0.013 ms): the suggest path pays it for every member of every head.
    """
    if type(est) is LogisticRegression and est.solver != "liblinear" and _multinomial(est):
        z = np.asarray(x @ est.coef_.T) + est.intercept_
        if z.shape[1] == 1:  # binary: scikit-learn's [1 - p, p]
            p = 1.0 / (1.0 + np.exp(-z))
            return np.hstack([1.0 - p, p])
        return softmax(z)
    return est.predict_proba(x)


def _multinomial(est: Any) -> bool:
    multi_class = getattr(est, "multi_class", "auto")  # the parameter is gone from newer scikit-learn
    return multi_class in ("auto", "multinomial", "deprecated", None)


@dataclass
class Head:
    """A calibrated ensemble of linear classifiers, each on one feature set ('embedding' or 'tfidf')."""

    classes: np.ndarray
    members: list[tuple[str, Any]]
    weights: np.ndarray
    temperature: float

    def proba(self, features: dict[str, Any]) -> np.ndarray:
        probs = [member_proba(est, features[name]) for name, est in self.members]
        return combine(probs, self.weights, self.temperature)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def combine_binary(member_probs: list[np.ndarray], weights: np.ndarray, temperature: float) -> np.ndarray:
    """Independent per-description probabilities: weighted mean of the members' logits, then temperature."""
    z = sum(w * _logit(p) for p, w in zip(member_probs, weights, strict=True))
    return 1.0 / (1.0 + np.exp(-np.asarray(z) / temperature))


class StackedLinear:
    """One-vs-rest binary linear classifiers as one matrix: one product per call instead of one per class.

    Built from a fitted scikit-learn `OneVsRestClassifier` of logistic regressions; a class that had no
    positive (or no negative) example while fitting keeps its constant probability.
    """

    def __init__(self, ovr: Any) -> None:
        n_features = next((e.coef_.shape[1] for e in ovr.estimators_ if hasattr(e, "coef_")), 0)
        coef = np.zeros((len(ovr.estimators_), n_features))
        intercept = np.zeros(len(ovr.estimators_))
        for k, est in enumerate(ovr.estimators_):
            if hasattr(est, "coef_"):
                coef[k], intercept[k] = est.coef_[0], est.intercept_[0]
            else:  # scikit-learn's constant predictor: its one label, as a (nearly) certain logit
                intercept[k] = 30.0 if float(np.ravel(est.y_)[0]) > 0.5 else -30.0
        self.coef = coef.T.copy()  # (features, classes), so dense and sparse inputs multiply alike
        self.intercept = intercept

    def predict_proba(self, x: Any) -> np.ndarray:
        z = np.asarray(x @ self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


@dataclass
class MultiHead:
    """The multi-label decision: one-vs-rest linear classifiers per feature set, combined and calibrated like
    `Head`, with a threshold per description chosen on out-of-fold predictions."""

    classes: np.ndarray
    members: list[tuple[str, Any]]
    weights: np.ndarray
    temperature: float
    thresholds: np.ndarray

    def proba(self, features: dict[str, Any]) -> np.ndarray:
        probs = [np.asarray(est.predict_proba(features[name])) for name, est in self.members]
        return combine_binary(probs, self.weights, self.temperature)

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """Which descriptions apply: a boolean matrix, probability at or above each one's threshold."""
        return proba >= self.thresholds[None, :]


@dataclass
class Scores:
    """Everything one pass over some texts yields; the service, predict, evaluate and drift all read it."""

    cleaned: list[str]
    embeddings: np.ndarray
    proba: np.ndarray
    sentiment: np.ndarray | None
    multi: np.ndarray | None = None  # independent per-description probabilities (multi-label models)
    tfidf: Any = None  # the texts' TF-IDF rows (sparse), kept for explanations
    states: list[TokenStates] | None = None  # each text's encoder token states, when embedded alone

    @property
    def top_confidence(self) -> np.ndarray:
        return self.proba.max(axis=1)


def limit_blas_threads(threads: int) -> None:
    """Cap numpy's BLAS at `threads` for the whole process (the service calls it once at start-up).

    Every product on the scoring path is small (one row against a few thousand), and OpenBLAS's default of
    one thread per core made each cost milliseconds whenever the other core was busy (its threads wait on
    one another): measured on 2 cores with another process running, a one-sentence suggest took 24.0 ms
    p50 with 2 BLAS threads and 11.7 ms with 1, and the novelty bank's product 6.6 against 0.08 ms.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")


class ContactModel:
    """A trained model: encoder, TF-IDF vectoriser, description and sentiment heads, taxonomy, metadata."""

    def __init__(
        self,
        encoder: OnnxEncoder,
        vectorizer: Any,
        description_head: Head,
        sentiment_head: Head | None,
        taxonomy: taxmod.Taxonomy,
        metadata: dict[str, Any],
        reference: dict[str, np.ndarray] | None = None,
        multilabel_head: MultiHead | None = None,
    ) -> None:
        self.encoder = encoder
        self.multilabel_head = multilabel_head
        self.vectorizer = vectorizer
        self.description_head = description_head
        self.sentiment_head = sentiment_head
        self.taxonomy = taxonomy
        self.metadata = metadata
        self.reference = reference or {}
        self.path: Path | None = None

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.description_head.classes]

    @property
    def multilabel(self) -> bool:
        """True when the model decides several descriptions per contact (trained on multi-label data)."""
        return self.multilabel_head is not None

    @property
    def review_threshold(self) -> float:
        return float(self.metadata.get("review_threshold", 0.5))

    @property
    def version(self) -> str:
        return str(self.metadata.get("model_version") or self.metadata.get("run_id") or "unregistered")

    def embed(self, cleaned: list[str], alone: bool = False, progress: bool = False) -> np.ndarray:
        """The texts' embeddings; with `alone`, each text's own whatever else is embedded with it (one encoder
        call per text when the encoder is not batch-invariant: the int8 one). The service's answers use it, so
        a suggestion does not depend on who else was typing at that moment."""
        return self._embed(cleaned, alone, progress)[0]

    def _embed(
        self, cleaned: list[str], alone: bool, progress: bool
    ) -> tuple[np.ndarray, list[TokenStates] | None]:
        """`embed`, and the token states of texts embedded one call each (for `assign_clauses`)."""
        if alone and not self.encoder.batch_invariant:
            return self.encoder.encode_alone(cleaned)
        return self.encoder.encode(cleaned, progress=progress), None

    def features(self, cleaned: list[str], embeddings: np.ndarray | None = None) -> dict[str, Any]:
        """The feature sets of already-cleaned texts (embedded together unless `embeddings` are given)."""
        if embeddings is None:
            embeddings = self.embed(cleaned)
        return {"embedding": embeddings, "tfidf": sparse_features(self.vectorizer, cleaned)}

    def score(self, texts: list[str], progress: bool = False, alone: bool = False) -> Scores:
        """Clean, embed and score texts with both heads (`alone`: see `embed`)."""
        cleaned = [clean(t) for t in texts]
        emb, states = self._embed(cleaned, alone, progress)
        feats = self.features(cleaned, emb)
        proba = self.description_head.proba(feats)
        sent = self.sentiment_head.proba(feats) if self.sentiment_head else None
        multi = self.multilabel_head.proba(feats) if self.multilabel_head else None
        return Scores(cleaned, emb, proba, sent, multi, feats["tfidf"], states)

    def scoring_cost(self, texts: list[str]) -> list[int]:
        """An upper bound of the encoder tokens `suggest` spends on each text, the most of its work: the
        text (cut at the encoder's `max_seq_length`) and, should it be about several descriptions, every
        token of it again for its clauses (`assign_clauses`: a text run again for its token states, clauses
        beyond the cut embedded on their own). A long text costs at most about twice its length."""
        window = self.encoder.max_seq_length
        return [min(n, window) + n for n in self.encoder.token_counts(texts)]

    def fit_evidence(self, scores: Scores) -> novelty.Evidence | None:
        """Whether each scored contact fits no description, and its novelty score (None: no reference)."""
        if "centroids" not in self.reference or len(self.reference["centroids"]) != scores.proba.shape[1]:
            return None
        return novelty.evidence(scores.embeddings, scores.top_confidence, self.reference)

    def decisions(self, scores: Scores) -> list[list[tuple[str, float]]]:
        """Per text, the descriptions that apply with their confidence, most confident first.

        A single-label model: the top description. A multi-label model: the top description of the ranking
        head (every contact is about something) and every description at or above its own threshold. The
        top description's confidence is the larger of its ranking and its multi-label probability: the chance
        that it is THE main description cannot exceed the chance that it applies.
        """
        top = scores.proba.argmax(axis=1)
        classes = self.classes
        if self.multilabel_head is None or scores.multi is None:
            return [[(classes[j], float(scores.proba[i, j]))] for i, j in enumerate(top)]
        head = self.multilabel_head
        col = {str(c): k for k, c in enumerate(head.classes)}
        chosen = head.decide(scores.multi)
        out = []
        for i in range(len(scores.multi)):
            found = {str(head.classes[j]): float(scores.multi[i, j]) for j in np.nonzero(chosen[i])[0]}
            main = classes[top[i]]
            p_main = float(scores.proba[i, top[i]])
            if main in col:
                p_main = max(p_main, float(scores.multi[i, col[main]]))
            found[main] = max(found.get(main, 0.0), p_main)
            out.append(sorted(found.items(), key=lambda kv: -kv[1]))
        return out

    def assign_clauses(
        self, cleaned: list[str], ids: list[list[str]], states: list[TokenStates] | None = None
    ) -> tuple[list[str], dict[str, Any], list[tuple[int, int, str]]]:
        """Split texts about several descriptions into clauses and give each clause to one of them.

        Clauses: spaCy sentences, then "but", "however", ";" ... (`text.clause_spans`). Each clause goes to
        the listed description it most likely speaks of; a description no clause chose takes its likeliest
        clause. Texts with one description or one clause are skipped. A clause's embedding is pooled from its
        text's own token states (`_clause_embeddings`), so it depends on that text alone.

        Args:
            states: the texts' token states from `score(..., alone=True)`, if it kept them (else each text
                about several descriptions is run through the encoder again, alone).

        Returns:
            The clauses, their features, and (text index, clause index, description id) assignments.
        """
        pieces: list[tuple[int, list[str], list[tuple[int, int]]]] = []
        for i, text in enumerate(cleaned):
            if len(ids[i]) > 1:
                found = clause_spans(text)
                if len(found) > 1:
                    pieces.append((i, [c for c, _, _ in found], [(a, b) for _, a, b in found]))
        if not pieces:
            return [], {}, []
        flat = [c for _, clauses, _ in pieces for c in clauses]
        feats = self.features(flat, self._clause_embeddings(cleaned, pieces, states))
        if self.multilabel_head is not None:
            topic, classes = self.multilabel_head.proba(feats), [str(c) for c in self.multilabel_head.classes]
        else:
            topic, classes = self.description_head.proba(feats), self.classes
        col = {c: k for k, c in enumerate(classes)}
        assigned: list[tuple[int, int, str]] = []
        start = 0
        for i, clauses, _ in pieces:
            first = start
            start += len(clauses)
            wanted = [d for d in ids[i] if d in col]
            if len(wanted) < 2:
                continue
            fit = topic[first:start][:, [col[d] for d in wanted]]
            owner = fit.argmax(axis=1)
            for k, d in enumerate(wanted):
                mine = np.nonzero(owner == k)[0]
                if len(mine) == 0:
                    mine = np.array([int(fit[:, k].argmax())])
                assigned += [(i, first + int(j), d) for j in mine]
        return flat, feats, assigned

    def _clause_embeddings(
        self,
        cleaned: list[str],
        pieces: list[tuple[int, list[str], list[tuple[int, int]]]],
        states: list[TokenStates] | None,
    ) -> np.ndarray:
        """Each clause's embedding: the mean of its own tokens' states in its text's encoder run, so a text
        scored alone costs no further encoder call for its clauses (the issue-16 measure: a contact about two
        things took twice the encoder time of one). A clause wholly beyond the encoder's max_seq_length has
        no tokens there and is embedded on its own, with that text's other such clauses."""
        rows: list[np.ndarray] = []
        for i, clauses, spans in pieces:
            own = states[i] if states is not None else self.encoder.encode_alone([cleaned[i]])[1][0]
            pooled = self.encoder.span_embeddings(own, spans)
            lost = [k for k, v in enumerate(pooled) if v is None]
            if lost:
                alone = self.encoder.encode([clauses[k] for k in lost], batch_size=len(lost))
                for k, v in zip(lost, alone, strict=True):
                    pooled[k] = v
            rows.extend(v for v in pooled if v is not None)
        return np.vstack(rows)

    def description_sentiments(
        self,
        cleaned: list[str],
        ids: list[list[str]],
        overall: np.ndarray | None,
        states: list[TokenStates] | None = None,
    ) -> list[dict[str, Sentiment]]:
        """The sentiment of each description in each (cleaned) text, from the clauses that speak of it.

        A text about one description, or of one clause, takes its overall sentiment; otherwise the sentiment
        head scores the clauses `assign_clauses` gave each description, averaged.
        """
        if self.sentiment_head is None or overall is None:
            return [{} for _ in cleaned]
        out = [{d: self._sentiment(overall[i]) for d in row} for i, row in enumerate(ids)]
        flat, feats, assigned = self.assign_clauses(cleaned, ids, states)
        if not assigned:
            return out
        sent = self.sentiment_head.proba(feats)
        groups: dict[tuple[int, str], list[int]] = {}
        for i, j, d in assigned:
            groups.setdefault((i, d), []).append(j)
        for (i, d), rows in groups.items():
            out[i][d] = self._sentiment(sent[rows].mean(axis=0))
        return out

    def _sentiment(self, proba: np.ndarray) -> Sentiment:
        """One row of the sentiment head's probabilities as the API shows it: the label and its confidence."""
        assert self.sentiment_head is not None, "sentiment probabilities come from the sentiment head"
        j = int(proba.argmax())
        return Sentiment(str(self.sentiment_head.classes[j]), round(float(proba[j]), 4))

    def describe(self, description_id: str, confidence: float) -> RankedDescription:
        """One suggested description as the API and CLI show it."""
        d = self.taxonomy.descriptions[description_id]
        group = self.taxonomy.group_of(description_id)
        return RankedDescription(d.id, d.name, group.name, group.id, d.owner, round(float(confidence), 4))

    def decided(
        self, description_id: str, confidence: float, sentiment: Sentiment | None
    ) -> DecidedDescription:
        """One description of the multi-label decision, with its own sentiment."""
        r = self.describe(description_id, confidence)
        return DecidedDescription(r.id, r.name, r.group, r.group_id, r.owner, r.confidence, sentiment)

    def suggest(
        self, texts: list[str], top_k: int = 3, threshold: float | None = None, explain: bool = False
    ) -> list[Suggestion]:
        """Top-k descriptions with calibrated confidence, the sentiment and whether a person should review;
        with `explain`, each suggestion's nearest training examples and strongest terms (`explanations`)."""
        scores = self.score(texts, alone=True)  # each answer as if asked alone (micro-batching, see `embed`)
        limit = self.review_threshold if threshold is None else threshold
        order = np.argsort(-scores.proba, axis=1)[:, :top_k]
        classes = self.classes
        decided = self.decisions(scores)
        per_desc = self.description_sentiments(
            scores.cleaned, [[d for d, _ in row] for row in decided], scores.sentiment, scores.states
        )
        ev = self.fit_evidence(scores)
        fits_none = ev.fits_none if ev is not None else np.zeros(len(texts), dtype=bool)
        review, reasons = review_decisions(scores.top_confidence, fits_none, limit)
        out = []
        for i, row in enumerate(order):
            explained = self._explanations(scores, i, [classes[j] for j in row]) if explain else None
            out.append(
                Suggestion(
                    suggestions=tuple(self.describe(classes[j], scores.proba[i, j]) for j in row),
                    descriptions=tuple(self.decided(d, c, per_desc[i].get(d)) for d, c in decided[i]),
                    sentiment=self._sentiment(scores.sentiment[i]) if scores.sentiment is not None else None,
                    needs_review=bool(review[i]),
                    fits_no_description=bool(fits_none[i]),
                    novelty_score=round(float(ev.score[i]), 4) if ev is not None else None,
                    review_reasons=tuple(reasons[i]),
                    redacted_text=scores.cleaned[i],
                    explanations=explained[0] if explained else None,
                    explanation_note=explained[1] if explained else None,
                )
            )
        return out

    def _explanations(
        self, scores: Scores, i: int, ids: list[str]
    ) -> tuple[tuple[Explanation, ...], str | None]:
        """Each suggested description's explanation for text `i`, and the note on why they are partial."""
        from contactlens.explain import explainer

        ex = explainer(self)
        row = scores.tfidf.tocsr()[i] if scores.tfidf is not None else None
        return tuple(ex.explain(scores.embeddings[i], row, d) for d in ids), ex.note

    # ---- persistence -------------------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write the artifact: heads (joblib), taxonomy, metadata.json, reference statistics.

        The encoder files are expected in `directory/encoder` already (training exports them there).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(
            {
                "vectorizer": self.vectorizer,
                "description": self.description_head,
                "sentiment": self.sentiment_head,
                "multilabel": self.multilabel_head,
            },
            directory / artifact.HEADS_FILE,
            compress=3,
        )
        self.taxonomy.save(directory / artifact.TAXONOMY_FILE)
        if self.reference:
            np.savez_compressed(directory / artifact.REFERENCE_FILE, **self.reference)  # type: ignore[arg-type]
        self.path = directory
        self.write_metadata()
        return directory

    def write_metadata(self) -> None:
        """(Re)write metadata.json alone, e.g. after test metrics or registry details were added."""
        assert self.path is not None, "save the model first"
        self.metadata = artifact.write_metadata(self.path, self.metadata)

    @classmethod
    def load(cls, directory: str | Path, encoder_threads: int = 1) -> ContactModel:
        """Load an artifact, refusing one built with incompatible library versions."""
        directory = Path(directory)
        meta = artifact.read_metadata(directory)
        artifact.check_compatible(meta, directory)
        heads_path = directory / artifact.HEADS_FILE
        try:
            heads = joblib.load(heads_path)
        except FileNotFoundError:
            raise ModelError(f"{directory}: {artifact.HEADS_FILE} is missing") from None
        except Exception as exc:  # a truncated or foreign pickle: say so rather than crash
            raise ModelError(f"{heads_path} cannot be loaded ({type(exc).__name__})") from None
        tax = taxmod.load(directory / artifact.TAXONOMY_FILE)
        encoder = OnnxEncoder.load(directory / artifact.ENCODER_DIR, intra_op_threads=encoder_threads)
        ref_path = directory / artifact.REFERENCE_FILE
        reference = dict(np.load(ref_path, allow_pickle=False)) if ref_path.is_file() else {}
        model = cls(
            encoder,
            heads["vectorizer"],
            heads["description"],
            heads["sentiment"],
            tax,
            meta,
            reference,
            heads.get("multilabel"),  # absent in artifacts from before multi-label support
        )
        model.path = directory
        return model
