"""GET /v1/drift over the contacts in the store."""

from __future__ import annotations

from datetime import date

import pandas as pd
from service_helpers import HEADERS, log_contact, suggest, written_suggestions

from contactlens.data import parse_labels
from tests.conftest import DATA

KEYS = (
    "revisit_taxonomy",
    "reasons",
    "input_drift",
    "mix_drift",
    "confidence_drift",
    "novel_clusters",
    "unused_descriptions",
    "confused_pairs",
    "split_candidates",
)


def test_drift_over_logged_contacts(client) -> None:
    rows = pd.read_csv(DATA / "train.csv").sample(150, random_state=0)
    for row in rows.itertuples():
        # A label cell may list several descriptions (`a:negative;b`); a bare id takes the row's sentiment.
        pairs = parse_labels(str(row.description))
        overall = row.sentiment if isinstance(row.sentiment, str) else None
        log_contact(
            client,
            text=row.text,
            channel=row.channel,
            site=row.site,
            received_at="2026-05-04",
            descriptions=[{"id": d, "sentiment": s or overall} for d, s in pairs],
        )
    r = client.get("/v1/drift", params={"from": "2026-05-01", "to": "2026-05-31"}, headers=HEADERS["analyst"])
    assert r.status_code == 200, r.text
    report = r.json()
    assert set(KEYS) <= set(report)
    assert isinstance(report["revisit_taxonomy"], bool)
    assert report["revisit_taxonomy"] == bool(report["reasons"])
    assert report["window"]["n_in_window"] == 150


def test_drift_against_a_baseline_period(client) -> None:
    rows = pd.read_csv(DATA / "test.csv").sort_values("received_at")
    for i, row in enumerate(rows.head(240).itertuples()):
        # the first 120 in April (the baseline, logged via suggest), the next 120 in May (the window)
        first = parse_labels(row.description)[0][0]
        if i < 120:
            answer = suggest(client, row.text)
            log_contact(
                client, text=row.text, received_at="2026-04-10", description=first,
                suggestion_id=answer["suggestion_id"],
            )  # fmt: skip
        else:
            log_contact(client, text=row.text, received_at="2026-05-10", description=first)
    # An April contact stored without a suggestion (an import: perhaps a training contact) is no baseline.
    log_contact(client, text="Parcel late again", received_at="2026-04-12", description="late_delivery")
    written_suggestions(client)
    params = {"from": "2026-05-01", "to": "2026-05-31"}
    r = client.get(
        "/v1/drift",
        params={**params, "baseline_from": "2026-04-01", "baseline_to": "2026-04-30"},
        headers=HEADERS["analyst"],
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["window"]["n_in_window"] == 120
    baseline = report["novelty"]["baseline"]
    assert baseline["n_contacts"] == 121 and 0 <= baseline["share"] <= 1 and 0 <= baseline["p_value"] <= 1
    assert ("baseline" in report["novelty"]["detected_by"]) == baseline["detected"]
    assert baseline["source"] == "given"
    # Without one, the contacts before the window logged with this model's suggestions are the baseline ...
    auto = client.get("/v1/drift", params=params, headers=HEADERS["analyst"]).json()
    assert auto["novelty"]["baseline"]["n_contacts"] == 120  # those logged with this model's suggestion
    assert auto["novelty"]["baseline"]["source"].startswith("auto: contacts received before the window")
    # ... unless asked not to: then the window is judged against training alone.
    alone = client.get("/v1/drift", params={**params, "auto_baseline": "false"}, headers=HEADERS["analyst"])
    assert alone.json()["novelty"]["baseline"] is None
    # The monthly pack's verdict uses the same baseline.
    from contactlens.monthly import drift_verdict

    with client.app.state.sessions() as session:
        verdict = drift_verdict(session, client.app.state.model, date(2026, 5, 1))
        assert verdict["baseline_contacts"] == 120 and isinstance(verdict["revisit"], bool)
        assert drift_verdict(session, client.app.state.model, date(2026, 4, 1))["baseline_contacts"] == 0
    # A baseline period with no contacts, or too few, is refused with what to fix.
    empty = {**params, "baseline_from": "2020-01-01", "baseline_to": "2020-01-31"}
    r = client.get("/v1/drift", params=empty, headers=HEADERS["analyst"])
    assert r.status_code == 422 and "the baseline period: no contacts received" in r.json()["message"]
    log_contact(client, text="Parcel late again", received_at="2026-03-04", description="late_delivery")
    small = {**params, "baseline_from": "2026-03-01", "baseline_to": "2026-03-31"}
    r = client.get("/v1/drift", params=small, headers=HEADERS["analyst"])
    assert r.status_code == 422 and "the baseline period holds 1 contacts" in r.json()["message"]
    r = client.get("/v1/drift", params={**params, "baseline_from": "last month"}, headers=HEADERS["analyst"])
    assert r.status_code == 422 and "baseline_from" in r.text


def test_drift_refuses_an_empty_or_small_window(client) -> None:
    r = client.get("/v1/drift", params={"from": "2020-01-01", "to": "2020-01-31"}, headers=HEADERS["analyst"])
    # issue 15: a 422 has the documented shape, `detail` a list and `message` the line to show
    assert r.status_code == 422 and "no contacts received" in r.json()["message"]
    assert r.json()["detail"][0]["msg"] == r.json()["message"]
    log_contact(client, text="Parcel late again", received_at="2026-05-04", description="late_delivery")
    r = client.get("/v1/drift", headers=HEADERS["analyst"])
    assert r.status_code == 422 and "at least" in r.json()["message"]
    assert client.get("/v1/drift", headers=HEADERS["reviewer"]).status_code == 403
