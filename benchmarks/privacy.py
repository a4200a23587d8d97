"""Personal-data benchmark (not a test): recall per type and false redactions of both redaction passes.

    python benchmarks/privacy.py [--banking77]

On `data/privacy/privacy_set.jsonl` (written by `data/privacy/generate_privacy_set.py`: verbatims in the
sample's styles with every datum marked, and negatives full of order numbers, prices, dates, times, product
codes, tracking numbers, shop and product names that must survive):

- recall per type: a datum counts as redacted when every letter and digit of it lies inside a redacted
  span (of any type; `typed_recall` also asks for the right placeholder);
- false redactions: kept values touched by a redacted span, and negative verbatims with any redaction;
- speed: the fast rule pass (the suggest path) against the redaction on `main` (`git show
  main:contactlens/text.py`, the baseline, measured in the same run), the full pass one text at a time
  and batched.

`--banking77` also times the full pass on BANKING77's 10,003 training texts (what training adds).
Results go to benchmarks/results/privacy.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import types
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from contactlens import pii  # noqa: E402
from contactlens.text import normalise, redact  # noqa: E402

SET = ROOT / "data" / "privacy" / "privacy_set.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "privacy.json"
HIGH = ("EMAIL", "PHONE", "CARD", "ACCOUNT", "IBAN", "POSTCODE", "NINO", "URL")  # target recall 99%
NER = ("NAME", "ADDRESS")  # target 90%
PLACEHOLDER_OF = {"IBAN": "ACCOUNT"}  # an IBAN is bank details: <ACCOUNT>


def fast_spans(text: str) -> list[pii.Span]:
    return pii.resolve(pii.find_spans(text), pii.placeholder_spans(text))


def covered(spans: list[pii.Span], start: int, end: int, text: str) -> tuple[bool, str | None]:
    """Whether every alphanumeric character of text[start:end] is in a span; the type of the first one."""
    first = None
    for i in range(start, end):
        if not text[i].isalnum():
            continue
        hit = next((s for s in spans if s[0] <= i < s[1]), None)
        if hit is None:
            return False, None
        first = first or hit[2]
    return True, first


def score(rows: list[dict[str, Any]], spans: list[list[pii.Span]]) -> dict[str, Any]:
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, redacted, right type
    missed: dict[str, list[str]] = defaultdict(list)
    kept: Counter[str] = Counter()
    touched: Counter[str] = Counter()
    touched_examples: list[str] = []
    negatives = negatives_touched = 0
    for row, sp in zip(rows, spans, strict=True):
        text = row["text"]
        for p in row["pii"]:
            ok, kind = covered(sp, p["start"], p["end"], text)
            counts = found[p["type"]]
            counts[0] += 1
            counts[1] += ok
            counts[2] += ok and kind == PLACEHOLDER_OF.get(p["type"], p["type"])
            if not ok and len(missed[p["type"]]) < 8:
                missed[p["type"]].append(text[max(0, p["start"] - 30) : p["end"] + 10])
        for k in row["keep"]:
            kept[k["what"]] += 1
            if any(s < k["end"] and k["start"] < e for s, e, _ in sp):
                touched[k["what"]] += 1
                if len(touched_examples) < 12:
                    touched_examples.append(text[k["start"] : k["end"]])
        if row["kind"] == "negative":
            negatives += 1
            if sp:
                negatives_touched += 1
                if len(touched_examples) < 24:
                    touched_examples.append(" | ".join(text[s:e] for s, e, _ in sp))
    per_type = {
        t: {"n": n, "recall": round(r / n, 4), "typed_recall": round(ok / n, 4)}
        for t, (n, r, ok) in sorted(found.items())
    }
    total_keep = sum(kept.values())
    return {
        "per_type": per_type,
        "false_redactions": {
            "negative_verbatims": negatives,
            "negative_verbatims_with_a_redaction": negatives_touched,
            "rate_negative_verbatims": round(negatives_touched / negatives, 4),
            "kept_values": total_keep,
            "kept_values_redacted": sum(touched.values()),
            "rate_kept_values": round(sum(touched.values()) / total_keep, 4),
            "by_kind": {w: {"n": kept[w], "redacted": touched[w]} for w in sorted(kept)},
            "examples": touched_examples,
        },
        "missed_examples": dict(missed),
    }


def baseline_redact() -> Any:
    """`redact` as it is on main (before issue 14), for the speed baseline; None if git cannot give it."""
    try:
        source = subprocess.run(
            ["git", "show", "main:contactlens/text.py"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("baseline_text")
    exec(compile(source, "main:contactlens/text.py", "exec"), module.__dict__)  # noqa: S102 - our own file
    return module.redact


def per_call_us(fn: Any, texts: list[str], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        for t in texts:
            start = time.perf_counter()
            fn(t)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def banking77() -> dict[str, Any] | None:
    path = ROOT.parent / "shared" / "datasets" / "banking77" / "train.csv"
    if not path.exists():
        return None
    import pandas as pd

    from contactlens.redaction import clean_many
    from contactlens.text import clean

    texts = pd.read_csv(path)["text"].astype(str).tolist()
    start = time.perf_counter()
    full = clean_many(texts)
    full_s = time.perf_counter() - start
    start = time.perf_counter()
    fast = [clean(t) for t in texts]
    fast_s = time.perf_counter() - start
    changed = sum(a != b for a, b in zip(full, fast, strict=True))
    names = sum("<NAME>" in t for t in full)
    return {
        "rows": len(texts),
        "full_pass_s": round(full_s, 1),
        "full_texts_per_s": round(len(texts) / full_s),
        "fast_pass_s": round(fast_s, 2),
        "rows_the_full_pass_changes_beyond_the_rules": changed,
        "rows_with_a_name": names,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--banking77", action="store_true", help="Also time the full pass on BANKING77.")
    args = parser.parse_args()
    rows = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [r["text"] for r in rows]
    assert all(normalise(t) == t for t in texts), "the set must be normalised text (offsets are into it)"
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []

    from contactlens.redaction import find_many, redact_full, warm_up

    start = time.perf_counter()
    warm_up()
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    full = find_many(texts)
    batched_s = time.perf_counter() - start
    fast = [fast_spans(t) for t in texts]

    old = baseline_redact()
    sample = texts[:300]
    speed: dict[str, Any] = {
        "fast_pass_us_per_text_p50": round(per_call_us(redact, sample), 1),
        "baseline_main_us_per_text_p50": round(per_call_us(old, sample), 1) if old else None,
        "full_pass_ms_per_text_p50": round(per_call_us(redact_full, sample[:150], repeat=1) / 1000, 2),
        "full_pass_batched_texts_per_s": round(len(texts) / batched_s),
        "full_pass_load_s": round(load_s, 1),
        "loadavg": load,
    }
    if old:
        speed["fast_minus_baseline_ms"] = round(
            (speed["fast_pass_us_per_text_p50"] - speed["baseline_main_us_per_text_p50"]) / 1000, 3
        )
    result: dict[str, Any] = {
        "set": {
            "file": str(SET.relative_to(ROOT)),
            "verbatims": len(rows),
            "positive": sum(r["kind"] == "positive" for r in rows),
            "negative": sum(r["kind"] == "negative" for r in rows),
            "data": sum(len(r["pii"]) for r in rows),
        },
        "full": score(rows, full),
        "fast": score(rows, fast),
        "speed": speed,
        "targets": {
            "recall_high": {t: 0.99 for t in HIGH},
            "recall_names_addresses": 0.90,
            "false_rate": 0.01,
        },
        "cpu_count": os.cpu_count(),
    }
    if args.banking77:
        result["banking77"] = banking77()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(f"{'type':10} {'n':>5} {'full':>7} {'fast':>7}  target")
    for t, v in result["full"]["per_type"].items():
        target = "99%" if t in HIGH else "90%" if t in NER else ""
        print(
            f"{t:10} {v['n']:5d} {v['recall']:7.1%} {result['fast']['per_type'][t]['recall']:7.1%}  {target}"
        )
    for name in ("full", "fast"):
        fr = result[name]["false_redactions"]
        print(
            f"{name}: negatives with a redaction {fr['negative_verbatims_with_a_redaction']}/"
            f"{fr['negative_verbatims']} ({fr['rate_negative_verbatims']:.1%}); kept values redacted "
            f"{fr['kept_values_redacted']}/{fr['kept_values']} ({fr['rate_kept_values']:.1%})"
        )
    print(json.dumps(speed))
    if args.banking77:
        print(json.dumps(result["banking77"]))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
