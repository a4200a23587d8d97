"""The model as an MLflow pyfunc, so `mlflow.pyfunc.load_model("models:/contactlens@champion")` works."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

try:  # mlflow is a dependency, but keep the import local to this module: the service does not need it.
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - mlflow is installed with the package
    PythonModel = object  # type: ignore[assignment,misc]

ARTIFACT_KEY = "contactlens_model"


class ContactLensPyfunc(PythonModel):  # type: ignore[misc,valid-type]
    """Takes a DataFrame with a `text` column; returns one row of suggestions per input row."""

    def load_context(self, context: Any) -> None:
        from contactlens.model import ContactModel

        self.model = ContactModel.load(context.artifacts[ARTIFACT_KEY])

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        # No type hints here: MLflow would try (and fail) to derive a schema from them.
        from contactlens.model import brief_decision

        if isinstance(model_input, pd.DataFrame):
            texts = model_input["text"].astype(str).tolist()  # the column, never the frame's column names
        else:
            texts = [str(t) for t in model_input]
        top_k = int((params or {}).get("top_k", 3))
        rows = []
        for s in self.model.suggest(texts, top_k=top_k):
            best = s["suggestions"][0]
            rows.append(
                {
                    "description": best["id"],
                    "confidence": best["confidence"],
                    "group": best["group"],
                    "needs_review": s["needs_review"],
                    "fits_no_description": s["fits_no_description"],
                    "novelty_score": s["novelty_score"],
                    "sentiment": s["sentiment"]["label"] if s["sentiment"] else None,
                    "suggestions": json.dumps(s["suggestions"]),
                    # The descriptions that apply, each with its sentiment (the `descriptions` of suggest).
                    "descriptions": json.dumps(brief_decision(s["descriptions"])),
                }
            )
        return pd.DataFrame(rows)
