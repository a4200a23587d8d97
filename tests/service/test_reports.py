"""The summary report, checked against hand-counted numbers, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from service_helpers import HEADERS, log_contact, other_than, suggest


@pytest.fixture
def scenario(make_client, database_url: str) -> TestClient:
    """Six contacts whose acceptance and review outcomes are known (the threshold queues only disagreements).

    | contact | received   | channel | site  | sentiment | logged      | queued | review decision  |
    | C1      | 2026-01-05 | email   | Leeds | negative  | top-1       | no     |                  |
    | C2      | 2026-01-06 | phone   | Leeds | negative  | top-2       | yes    | top-1 (agrees)   |
    | C3      | 2026-01-07 | email   | York  |           | not in top3 | yes    | same (disagrees) |
    | C4      | 2026-01-08 | letter  | York  | positive  | no suggestion | no   |                  |
    | C5      | 2026-02-02 | email   | Leeds | neutral   | top-1       | no     |                  |
    | C6      | 2026-01-09 | phone   | York  | negative  | top-3       | yes    | pending          |
    """
    client = make_client(database_url=database_url, review_threshold=0.0)

    def answered(text: str) -> tuple[str, list[str]]:
        a = suggest(client, text)
        return a["suggestion_id"], [s["id"] for s in a["suggestions"]]

    def contact(day: str, channel: str, site: str, sentiment: str | None, description: str, sid=None) -> dict:
        return log_contact(
            client,
            received_at=day,
            channel=channel,
            site=site,
            sentiment=sentiment,
            description=description,
            suggestion_id=sid,
        )

    sid, top = answered("My parcel never came")
    contact("2026-01-05", "email", "Leeds", "negative", top[0], sid)
    sid, top = answered("Sofa delivered with a scratch on the arm")
    c2 = contact("2026-01-06", "phone", "Leeds", "negative", top[1], sid)
    sid, top = answered("The app crashes when I pay")
    c3 = contact("2026-01-07", "email", "York", None, other_than(client, top), sid)
    contact("2026-01-08", "letter", "York", "positive", "late_delivery")
    sid, top = answered("Refund not received yet")
    contact("2026-02-02", "email", "Leeds", "neutral", top[0], sid)
    sid, top = answered("Staff in the café were rude")
    contact("2026-01-09", "phone", "York", "negative", top[2], sid)

    items = {
        i["contact"]["id"]: i for i in client.get("/v1/review", headers=HEADERS["reviewer"]).json()["items"]
    }
    assert len(items) == 3
    c2_top = items[c2["id"]]["suggestions"][0]["id"]
    for cid, description in ((c2["id"], c2_top), (c3["id"], c3["description"])):
        r = client.post(
            f"/v1/review/{items[cid]['id']}", json={"description": description}, headers=HEADERS["reviewer"]
        )
        assert r.status_code == 200, r.text
    return client


def report(client: TestClient, params: str) -> dict:
    r = client.get(f"/v1/reports/summary?{params}", headers=HEADERS["analyst"])
    assert r.status_code == 200, r.text
    return r.json()


def row(value, contacts, with_suggestion, top1, top3, review_rate, reviewed, agreement) -> dict:
    return {
        "value": value,
        "contacts": contacts,
        "with_suggestion": with_suggestion,
        "acceptance_top1": top1,
        "acceptance_top3": top3,
        "review_rate": review_rate,
        "reviewed": reviewed,
        "reviewer_agreement": agreement,
    }


def test_by_channel_in_january(scenario: TestClient) -> None:
    r = report(scenario, "by=channel&from=2026-01-01&to=2026-01-31")
    assert r["by"] == "channel" and r["from"] == "2026-01-01T00:00:00" and r["to"] == "2026-02-01T00:00:00"
    assert r["total"] == row(None, 5, 4, 0.25, 0.75, 0.6, 2, 0.5)
    assert r["rows"] == [
        row("email", 2, 2, 0.5, 0.5, 0.5, 1, 0.0),
        row("phone", 2, 2, 0.0, 1.0, 1.0, 1, 1.0),
        row("letter", 1, 0, None, None, 0.0, 0, None),
    ]


def test_by_site_over_all_time(scenario: TestClient) -> None:
    r = report(scenario, "by=site")
    assert r["from"] is None and r["to"] is None
    assert r["total"] == row(None, 6, 5, 0.4, 0.8, 0.5, 2, 0.5)
    assert r["rows"] == [
        row("Leeds", 3, 3, round(2 / 3, 4), 1.0, round(1 / 3, 4), 1, 1.0),
        row("York", 3, 2, 0.0, 0.5, round(2 / 3, 4), 1, 0.0),
    ]


def test_by_sentiment_and_an_empty_range(scenario: TestClient) -> None:
    r = report(scenario, "by=sentiment&to=2026-01-31")
    assert [(x["value"], x["contacts"]) for x in r["rows"]] == [("negative", 3), (None, 1), ("positive", 1)]
    empty = report(scenario, "by=group&from=2030-01-01")
    assert empty["rows"] == [] and empty["total"] == row(None, 0, 0, None, None, None, 0, None)


def test_by_description_and_group_follow_the_review(scenario: TestClient) -> None:
    contacts = scenario.get("/v1/contacts?limit=100", headers=HEADERS["analyst"]).json()["items"]
    by_desc = {x["value"]: x["contacts"] for x in report(scenario, "by=description")["rows"]}
    by_group = {x["value"]: x["contacts"] for x in report(scenario, "by=group")["rows"]}
    expected_desc: dict[str, int] = {}
    expected_group: dict[str, int] = {}
    for c in contacts:
        expected_desc[c["current_description"]] = expected_desc.get(c["current_description"], 0) + 1
        expected_group[c["current_group"]] = expected_group.get(c["current_group"], 0) + 1
    assert by_desc == expected_desc and by_group == expected_group
    assert sum(by_group.values()) == 6


def test_descriptions_report_counts_every_description_with_its_sentiment(
    make_client, database_url: str
) -> None:
    """Each description of each contact once (current set, after review), split by its own sentiment.

    | contact | received   | descriptions (current)                                           |
    | D1      | 2026-03-01 | late_delivery:negative + driver_conduct:positive                 |
    | D2      | 2026-03-02 | late_delivery:negative                                           |
    | D3      | 2026-03-03 | till_queues (no sentiment) + late_delivery:neutral               |
    | D4      | 2026-03-04 | logged staff_rude + late_delivery; reviewed: staff_rude:negative |
    |         |            | + till_queues                                                    |
    | D5      | 2026-04-01 | driver_conduct:negative (outside the March range)                |
    """
    client = make_client(database_url=database_url, review_threshold=1.0)

    def contact(day: str, descriptions: list[dict], **extra) -> dict:
        return log_contact(client, received_at=day, descriptions=descriptions, **extra)

    contact(
        "2026-03-01",
        [{"id": "late_delivery", "sentiment": "negative"}, {"id": "driver_conduct", "sentiment": "positive"}],
    )
    contact("2026-03-02", [{"id": "late_delivery"}], sentiment="negative")
    contact("2026-03-03", [{"id": "till_queues"}, {"id": "late_delivery", "sentiment": "neutral"}])
    answer = suggest(client, "Rude staff and my parcel is late")
    d4 = contact(
        "2026-03-04",
        [{"id": "staff_rude"}, {"id": "late_delivery"}],
        suggestion_id=answer["suggestion_id"],
    )
    contact("2026-04-01", [{"id": "driver_conduct", "sentiment": "negative"}])
    [item] = client.get("/v1/review", headers=HEADERS["reviewer"]).json()["items"]
    assert item["contact"]["id"] == d4["id"]
    body = {"descriptions": [{"id": "staff_rude", "sentiment": "negative"}, {"id": "till_queues"}]}
    assert client.post(f"/v1/review/{item['id']}", json=body, headers=HEADERS["reviewer"]).status_code == 200

    r = client.get("/v1/reports/descriptions?from=2026-03-01&to=2026-03-31", headers=HEADERS["analyst"])
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["from"], got["to"]) == ("2026-03-01T00:00:00", "2026-04-01T00:00:00")
    assert (got["contacts"], got["descriptions"]) == (4, 7)

    def row(description, group, contacts, negative, neutral, positive, unknown) -> dict:
        return {
            "description": description,
            "group": group,
            "contacts": contacts,
            "negative": negative,
            "neutral": neutral,
            "positive": positive,
            "unknown": unknown,
        }

    assert got["rows"] == [
        row("late_delivery", "delivery", 3, 2, 1, 0, 0),
        row("till_queues", "store", 2, 0, 0, 0, 2),
        row("driver_conduct", "delivery", 1, 0, 0, 1, 0),
        row("staff_rude", "store", 1, 1, 0, 0, 0),
    ]
    everything = client.get("/v1/reports/descriptions", headers=HEADERS["analyst"]).json()
    assert everything["contacts"] == 5
    assert everything["rows"][1] == row("driver_conduct", "delivery", 2, 1, 0, 1, 0)  # ties: by id
    # The summary keeps counting each contact once, by its primary description.
    summary = report(client, "by=description&from=2026-03-01&to=2026-03-31")
    assert {x["value"]: x["contacts"] for x in summary["rows"]} == {
        "late_delivery": 2,
        "till_queues": 1,
        "staff_rude": 1,
    }
    denied = client.get("/v1/reports/descriptions", headers=HEADERS["reviewer"])
    assert denied.status_code == 403
    bad = client.get("/v1/reports/descriptions?from=March", headers=HEADERS["analyst"])
    assert bad.status_code == 422 and bad.json()["message"].startswith("field 'from'")


def test_by_month_compares_each_month_with_the_one_before(scenario: TestClient) -> None:
    r = report(scenario, "by=month")
    assert r["by"] == "month" and r["periods"] == ["2026-01", "2026-02"]
    jan, feb = r["rows"]
    assert (jan["period"], jan["contacts"], jan["previous_contacts"], jan["significant"]) == (
        "2026-01",
        5,
        None,
        None,
    )
    assert (feb["period"], feb["contacts"], feb["previous_contacts"], feb["change"]) == ("2026-02", 1, 5, -4)
    assert feb["change_pct"] == -80.0 and feb["share"] == 1.0
    assert feb["p_value"] == pytest.approx(0.21875)  # exact binomial: 1 of 6 where 3 were expected
    assert feb["significant"] is False


def test_by_month_split_by_channel_gives_shares_and_the_change(scenario: TestClient) -> None:
    r = report(scenario, "by=month&split=channel")
    feb = {x["value"]: x for x in r["rows"] if x["period"] == "2026-02"}
    assert set(feb) == {"email", "phone", "letter"}  # each January channel is compared, even at 0
    assert (feb["email"]["contacts"], feb["email"]["share"], feb["email"]["previous_contacts"]) == (1, 1.0, 2)
    assert (feb["email"]["previous_share"], feb["phone"]["contacts"], feb["phone"]["change"]) == (0.4, 0, -2)
    assert all(isinstance(x["q_value"], float) for x in feb.values())


def test_by_week_csv_and_bad_ranges(scenario: TestClient) -> None:
    weeks = report(scenario, "by=week")
    assert weeks["periods"] == ["2026-W02", "2026-W06"]  # 5-9 January; 2 February
    r = scenario.get("/v1/reports/summary?by=month&split=site&format=csv", headers=HEADERS["analyst"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    documented = scenario.get("/openapi.json").json()["paths"]["/v1/reports/summary"]["get"]["responses"]
    assert set(documented["200"]["content"]) == {"application/json", "text/csv"}  # both answers documented
    lines = r.text.splitlines()
    assert lines[0].startswith("period,value,contacts,share,previous_contacts")
    assert "2026-02,Leeds,1,1.0,2,0.4," in r.text
    bad = scenario.get("/v1/reports/summary?from=2026-02-01&to=2026-01-01", headers=HEADERS["analyst"])
    assert bad.status_code == 422 and "'from'" in bad.json()["message"]
    split = scenario.get("/v1/reports/summary?by=group&split=site", headers=HEADERS["analyst"])
    assert split.status_code == 422 and "split" in split.json()["message"]


def test_by_owner_counts_the_current_owner(scenario: TestClient) -> None:
    r = report(scenario, "by=owner")
    assert sum(x["contacts"] for x in r["rows"]) == 6
    assert all(x["value"] for x in r["rows"])  # every sample description has an owner
