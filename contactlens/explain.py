"""Why a description was suggested: the nearest labelled training examples of that description (cosine on
the embeddings, from the bank of redacted training texts kept in the artifact's reference) and the words
that pushed its score most (the TF-IDF member's coefficients times the text's TF-IDF values).

The bank is the drift reference's sample (`sample_embeddings`, `sample_labels`) with the texts
(`sample_texts`, cleaned, so redacted) added by training since issue 18. An artifact trained before has no
texts: its explanations carry a note and no examples, and are never an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from contactlens.results import Explanation, ExplanationExample, ExplanationTerm

if TYPE_CHECKING:
    from contactlens.model import ContactModel

EXAMPLES, TERMS = 3, 5
NO_BANK = "this model's artifact keeps no training texts (trained before explanations): no examples"


class Explainer:
    """Explanations for one model; built once (lazily) and kept with it."""

    def __init__(self, model: ContactModel) -> None:
        ref = model.reference
        self.note: str | None = None
        self.by_class: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if "sample_texts" in ref and "sample_embeddings" in ref:
            texts = np.asarray(ref["sample_texts"], dtype=str)
            emb = np.asarray(ref["sample_embeddings"], dtype=np.float32)
            labels = np.asarray(ref["sample_labels"], dtype=str)
            for label in np.unique(labels):
                rows = np.nonzero(labels == label)[0]
                self.by_class[str(label)] = (emb[rows], texts[rows])
        else:
            self.note = NO_BANK
        self.classes = {str(c): k for k, c in enumerate(model.description_head.classes)}
        member = dict(model.description_head.members).get("tfidf")
        coef = getattr(member, "coef_", None)
        self.coef = np.asarray(coef) if coef is not None and len(coef) == len(self.classes) else None
        self.terms = self._term_names(model.vectorizer) if self.coef is not None else None

    @staticmethod
    def _term_names(vectorizer: Any) -> np.ndarray | None:
        """Feature names with the word part's prefix dropped; character n-grams are left out (None)."""
        try:
            names = vectorizer.get_feature_names_out()
        except AttributeError:
            return None
        words = np.array([n.startswith("word__") or "__" not in n for n in names])
        return np.where(words, np.char.replace(names.astype(str), "word__", ""), "")

    def explain(self, embedding: np.ndarray, tfidf_row: Any, description_id: str) -> Explanation:
        """The nearest examples and the strongest terms for one text and one suggested description."""
        examples: list[ExplanationExample] = []
        bank = self.by_class.get(description_id)
        if bank is not None:
            emb, texts = bank
            sims = emb @ embedding
            top = np.argsort(-sims)[:EXAMPLES]
            examples = [ExplanationExample(str(texts[j]), round(float(sims[j]), 4)) for j in top]
        terms: list[ExplanationTerm] = []
        k = self.classes.get(description_id)
        if self.coef is not None and self.terms is not None and k is not None and tfidf_row is not None:
            idx, values = tfidf_row.indices, tfidf_row.data
            push = values * self.coef[k, idx]
            for j in np.argsort(-push):
                if len(terms) == TERMS or push[j] <= 0:
                    break
                if self.terms[idx[j]]:
                    terms.append(ExplanationTerm(str(self.terms[idx[j]]), round(float(push[j]), 4)))
        return Explanation(description_id, tuple(examples), tuple(terms))


def explainer(model: ContactModel) -> Explainer:
    """The model's explainer, built on first use."""
    found = getattr(model, "_explainer", None)
    if found is None:
        found = Explainer(model)
        model._explainer = found  # type: ignore[attr-defined]
    return found
