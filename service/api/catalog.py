"""`/v1/taxonomy` and `/v1/model`: what the served model knows and how well it did when trained."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter

from service.auth import Reader
from service.deps import ModelDep, SettingsDep, review_threshold
from service.schemas import ModelPublic, TaxonomyPublic

router = APIRouter(prefix="/v1", tags=["catalog"])


@router.get("/taxonomy", response_model=TaxonomyPublic)
def taxonomy(model: ModelDep, _: Reader) -> Any:
    """The served model's taxonomy: groups, descriptions with guidance, examples and owners."""
    tax = model.taxonomy
    raw = tax.to_dict()
    return {
        "name": tax.name,
        "version": tax.version,
        "groups": raw["groups"],
        "migrations": raw.get("migrations", []),
    }


@router.get("/model", response_model=ModelPublic)
def model_info(model: ModelDep, settings: SettingsDep, _: Reader) -> Any:
    """The served model: version, taxonomy version, review threshold and training metrics."""
    meta = model.metadata
    metrics = meta.get("metrics") or {}
    return {
        "version": model.version,
        "taxonomy_name": model.taxonomy.name,
        "taxonomy_version": model.taxonomy.version,
        "created_at": meta.get("created_at"),
        "n_train": meta.get("n_train"),
        "descriptions": len(model.classes),
        "sentiment_available": model.sentiment_head is not None,
        "review_threshold": review_threshold(model, settings),
        "metrics": {split: _scalars(values) for split, values in metrics.items() if isinstance(values, dict)},
    }


def _scalars(values: dict[str, Any]) -> dict[str, float]:
    """The top-level numbers only: per-class tables and curves stay in the artifact and MLflow."""
    return {
        k: float(v)
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }
