"""What a trained model is and how it is used: features, calibrated heads, top-k, save/load.

Training (`training.fit`) builds a `ContactModel`; the service and the CLI only load one. Both call the same
`score` path: `text.clean` -> ONNX sentence embeddings + TF-IDF -> calibrated ensemble heads.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn

from contactlens import taxonomy as taxmod
from contactlens.encoder import OnnxEncoder
from contactlens.errors import ModelError
from contactlens.text import clean

FORMAT_VERSION = 1
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


@dataclass
class Head:
    """A calibrated ensemble of linear classifiers, each on one feature set ('embedding' or 'tfidf')."""

    classes: np.ndarray
    members: list[tuple[str, Any]]
    weights: np.ndarray
    temperature: float

    def proba(self, features: dict[str, Any]) -> np.ndarray:
        probs = [est.predict_proba(features[name]) for name, est in self.members]
        return combine(probs, self.weights, self.temperature)


@dataclass
class Scores:
    """Everything one pass over some texts yields; the service, predict, evaluate and drift all read it."""

    cleaned: list[str]
    embeddings: np.ndarray
    proba: np.ndarray
    sentiment: np.ndarray | None

    @property
    def top_confidence(self) -> np.ndarray:
        return self.proba.max(axis=1)


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
    ) -> None:
        self.encoder = encoder
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
    def review_threshold(self) -> float:
        return float(self.metadata.get("review_threshold", 0.5))

    @property
    def version(self) -> str:
        return str(self.metadata.get("model_version") or self.metadata.get("run_id") or "unregistered")

    def features(self, cleaned: list[str], embeddings: np.ndarray | None = None) -> dict[str, Any]:
        """The feature sets of already-cleaned texts."""
        if embeddings is None:
            embeddings = self.encoder.encode(cleaned)
        return {"embedding": embeddings, "tfidf": self.vectorizer.transform(cleaned)}

    def score(self, texts: list[str], progress: bool = False) -> Scores:
        """Clean, embed and score texts with both heads."""
        cleaned = [clean(t) for t in texts]
        emb = self.encoder.encode(cleaned, progress=progress)
        feats = self.features(cleaned, emb)
        proba = self.description_head.proba(feats)
        sent = self.sentiment_head.proba(feats) if self.sentiment_head else None
        return Scores(cleaned, emb, proba, sent)

    def describe(self, description_id: str, confidence: float) -> dict[str, Any]:
        """One suggestion as the API and CLI show it."""
        d = self.taxonomy.descriptions[description_id]
        group = self.taxonomy.group_of(description_id)
        return {
            "id": d.id,
            "name": d.name,
            "group": group.name,
            "group_id": group.id,
            "owner": d.owner,
            "confidence": round(float(confidence), 4),
        }

    def suggest(
        self, texts: list[str], top_k: int = 3, threshold: float | None = None
    ) -> list[dict[str, Any]]:
        """Top-k descriptions with calibrated confidence, the sentiment and whether a person should review."""
        scores = self.score(texts)
        limit = self.review_threshold if threshold is None else threshold
        order = np.argsort(-scores.proba, axis=1)[:, :top_k]
        classes = self.classes
        out = []
        for i, row in enumerate(order):
            sentiment = None
            if scores.sentiment is not None and self.sentiment_head is not None:
                j = int(scores.sentiment[i].argmax())
                sentiment = {
                    "label": str(self.sentiment_head.classes[j]),
                    "confidence": round(float(scores.sentiment[i, j]), 4),
                }
            out.append(
                {
                    "suggestions": [self.describe(classes[j], scores.proba[i, j]) for j in row],
                    "sentiment": sentiment,
                    "needs_review": bool(scores.proba[i, row[0]] < limit),
                    "redacted_text": scores.cleaned[i],
                }
            )
        return out

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
            },
            directory / "heads.joblib",
            compress=3,
        )
        self.taxonomy.save(directory / "taxonomy.yaml")
        if self.reference:
            np.savez_compressed(directory / "reference.npz", **self.reference)  # type: ignore[arg-type]
        self.path = directory
        self.write_metadata()
        return directory

    def write_metadata(self) -> None:
        """(Re)write metadata.json alone, e.g. after test metrics or registry details were added."""
        assert self.path is not None, "save the model first"
        meta = {**self.metadata, "format_version": FORMAT_VERSION, "versions": library_versions()}
        (self.path / "metadata.json").write_text(json.dumps(meta, indent=2, default=_json_default))
        self.metadata = meta

    @classmethod
    def load(cls, directory: str | Path, encoder_threads: int = 1) -> ContactModel:
        """Load an artifact, refusing one built with incompatible library versions."""
        directory = Path(directory)
        meta_path = directory / "metadata.json"
        if not meta_path.is_file():
            raise ModelError(f"{directory}: not a ContactLens model (no metadata.json)")
        try:
            meta = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ModelError(f"{meta_path}: not valid JSON") from None
        check_compatible(meta, directory)
        try:
            heads = joblib.load(directory / "heads.joblib")
        except FileNotFoundError:
            raise ModelError(f"{directory}: heads.joblib is missing") from None
        except Exception as exc:  # a truncated or foreign pickle: say so rather than crash
            raise ModelError(f"{directory}/heads.joblib cannot be loaded ({type(exc).__name__})") from None
        tax = taxmod.load(directory / "taxonomy.yaml")
        encoder = OnnxEncoder.load(directory / "encoder", intra_op_threads=encoder_threads)
        ref_path = directory / "reference.npz"
        reference = dict(np.load(ref_path, allow_pickle=False)) if ref_path.is_file() else {}
        model = cls(
            encoder, heads["vectorizer"], heads["description"], heads["sentiment"], tax, meta, reference
        )
        model.path = directory
        return model


def library_versions() -> dict[str, str]:
    import onnxruntime

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "onnxruntime": onnxruntime.__version__,
        "contactlens": _own_version(),
    }


def _own_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("contactlens")
    except PackageNotFoundError:
        return "0+unknown"


def _minor(v: str) -> tuple[str, ...]:
    return tuple(v.split(".")[:2])


def check_compatible(meta: dict[str, Any], directory: Path) -> None:
    """Refuse artifacts whose pickles would load silently wrong under the installed libraries."""
    fmt = meta.get("format_version")
    if fmt != FORMAT_VERSION:
        raise ModelError(
            f"{directory}: artifact format {fmt}, this ContactLens reads format {FORMAT_VERSION}"
        )
    built = meta.get("versions", {})
    now = library_versions()
    for lib in ("scikit-learn", "numpy"):
        if lib in built and _minor(built[lib]) != _minor(now[lib]):
            raise ModelError(
                f"{directory}: built with {lib} {built[lib]}, installed is {now[lib]}; "
                f"retrain or install {built[lib]}"
            )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
