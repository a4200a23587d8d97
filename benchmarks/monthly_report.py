"""Monthly report speed: the sample data (data/train.csv + data/test.csv, received_at as in the files)
stored as contacts in a fresh SQLite store, then `monthly.pack` + `render_html` (+ CSV) for the latest month
timed; with --model, the drift verdict too (what `contactlens report --month` does). With --live-baseline as
well, data/test.csv's contacts (never trained on) are stored as if logged live with this model's suggestions,
so that the drift verdict also compares the month with those received before it (its baseline period).

Run from the repository root:  python benchmarks/monthly_report.py [--model DIR [--live-baseline]]

Writes benchmarks/results/monthly_report.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contactlens import data as datamod  # noqa: E402
from contactlens import monthly, taxonomy  # noqa: E402
from contactlens.routing import backfill_owners  # noqa: E402
from contactlens.store import Contact, Suggestion, make_engine, session_factory, upgrade  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "monthly_report.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--live-baseline", action="store_true", help="test.csv logged live (see above)")
    args = parser.parse_args()
    tax = taxonomy.load(ROOT / "data" / "taxonomy.yaml")
    parts = [datamod.load(ROOT / "data" / f) for f in ("train.csv", "test.csv")]
    frame = datamod.with_labels(pd.concat(parts, ignore_index=True))
    live = [False] * len(parts[0]) + [True] * len(parts[1])
    model = None
    if args.model:
        from contactlens.model import ContactModel

        model = ContactModel.load(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/store.db")
        upgrade(engine)
        sessions = session_factory(engine)
        with sessions() as s, s.begin():
            for text, labels, sentiment, channel, received, is_live in zip(
                frame["text"],
                frame["labels"],
                frame["sentiment"],
                frame["channel"],
                frame["received_at"],
                live,
                strict=True,
            ):
                did = labels[0]
                suggestion = None
                if is_live and model is not None and args.live_baseline:
                    suggestion = Suggestion(
                        model_version=model.version,
                        taxonomy_version=model.taxonomy.version,
                        top1_id=did,
                        top1_confidence=0.9,
                        ranked=[{"id": did, "confidence": 0.9}],
                        needs_review=False,
                    )
                s.add(
                    Contact(
                        suggestion=suggestion,
                        text=text,
                        text_redacted=True,
                        channel=channel or "email",
                        received_at=pd.Timestamp(received).to_pydatetime(),
                        logged_by="benchmark",
                        description_id=did,
                        sentiment=sentiment or None,
                        current_description_id=did,
                        current_group_id=tax.descriptions[did].group,
                        current_sentiment=sentiment or None,
                    )
                )
        with sessions() as s, s.begin():
            backfill_owners(s, tax)
        latest = pd.to_datetime(frame["received_at"]).max()
        month = monthly.parse_month(f"{latest.year:04d}-{latest.month:02d}")
        started, cpu = time.perf_counter(), time.process_time()
        with sessions() as s:
            verdict = monthly.drift_verdict(s, model, month) if model is not None else None
            drift_s = time.perf_counter() - started
            pack = monthly.pack(s, tax, month, verdict)
        html = monthly.render_html(pack)
        monthly.to_csv(pack)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu
        engine.dispose()
    result = {
        "contacts_stored": len(frame),
        "month": pack["month"],
        "contacts_in_month": pack["contacts"],
        "seconds_total": round(total, 2),
        "cpu_seconds": round(cpu, 2),  # on a loaded machine, wall time is mostly waiting for a core
        "seconds_drift": round(drift_s, 2) if model is not None else None,
        "drift_baseline_contacts": (verdict or {}).get("baseline_contacts"),
        "html_bytes": len(html),
        "loadavg": os.getloadavg()[0],
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
