"""The PII benchmark's labelled set: regenerated identically, big enough, every span where it says."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

from contactlens.text import normalise

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "data" / "privacy"


def _generator():
    spec = importlib.util.spec_from_file_location("generate_privacy_set", FOLDER / "generate_privacy_set.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_committed_set_is_what_the_script_writes() -> None:
    rows = _generator().build()
    committed = [json.loads(line) for line in (FOLDER / "privacy_set.jsonl").read_text().splitlines()]
    assert rows == committed


def test_the_set_has_every_type_and_enough_negatives() -> None:
    rows = _generator().build()
    kinds = Counter(r["kind"] for r in rows)
    assert kinds["positive"] >= 600 and kinds["negative"] >= 200
    types = Counter(p["type"] for r in rows for p in r["pii"])
    expected = [
        "EMAIL",
        "PHONE",
        "CARD",
        "ACCOUNT",
        "IBAN",
        "POSTCODE",
        "NINO",
        "URL",
        "NAME",
        "ADDRESS",
        "DOB",
        "NHS",
        "PASSPORT",
        "LICENCE",
    ]
    assert all(types[t] >= 50 for t in expected), types
    kept = Counter(k["what"] for r in rows for k in r["keep"])
    assert all(
        kept[w] >= 30
        for w in ["order", "price", "date", "time", "product_code", "tracking", "shop", "product"]
    ), kept
    assert len({r["channel"] for r in rows}) == 7
    for r in rows:
        text = r["text"]
        assert normalise(text) == text  # offsets index the text the redaction sees
        assert (r["kind"] == "negative") == (not r["pii"])
        for span in r["pii"] + r["keep"]:
            assert 0 <= span["start"] < span["end"] <= len(text) and text[span["start"] : span["end"]].strip()
