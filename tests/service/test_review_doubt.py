"""Doubt where it belongs in the service: fits_no_description in suggest, its review reason, and reviewers'
"no description fits" answers kept as drift evidence, never as training labels."""

from __future__ import annotations

import numpy as np
from service_helpers import HEADERS, log_contact, suggest

from training.feedback import latest_decisions

REVIEWER = HEADERS["reviewer"]


def test_suggest_and_batch_say_whether_a_contact_fits_no_description(client) -> None:
    answer = suggest(client, "My parcel was due on Monday and never came")
    assert answer["fits_no_description"] in (True, False)
    assert 0.0 <= answer["novelty_score"] <= 1.0
    assert answer["needs_review"] == bool(answer["review_reasons"])
    r = client.post(
        "/v1/suggest/batch", json={"texts": ["hi", "refund still not here"]}, headers=HEADERS["logger"]
    )
    assert r.status_code == 200, r.text
    assert all("fits_no_description" in x and "novelty_score" in x for x in r.json()["results"])


def test_a_contact_that_fits_no_description_is_queued_saying_so(
    make_client, sample_model, monkeypatch
) -> None:
    client = make_client(review_threshold=0.0)  # confidence alone would never queue it
    monkeypatch.setitem(sample_model.reference, "novelty_cut", np.array([0.0]))  # every contact fits none
    answer = suggest(client, "My parcel was due on Monday and never came")
    assert answer["fits_no_description"] is True and answer["needs_review"] is True
    assert answer["review_reasons"] == ["fits_no_description"]
    top = answer["suggestions"][0]["id"]
    log_contact(client, description=top, suggestion_id=answer["suggestion_id"])
    [item] = client.get("/v1/review", headers=REVIEWER).json()["items"]
    assert item["reason"] == "fits_no_description"


def test_no_description_fits_is_kept_on_the_decision_and_never_becomes_a_training_label(
    make_client, monkeypatch, sample_model
) -> None:
    client = make_client(review_threshold=1.0)
    ids = []
    for text in ("Do you sell tickets for the county show?", "My parcel was due on Monday and never came"):
        answer = suggest(client, text)
        top = answer["suggestions"][0]["id"]
        ids.append(
            log_contact(client, text=text, description=top, suggestion_id=answer["suggestion_id"])["id"]
        )
        assert answer["review_reasons"][0] == "low_confidence"
    items = {i["contact"]["id"]: i for i in client.get("/v1/review", headers=REVIEWER).json()["items"]}
    nofit, plain = items[ids[0]], items[ids[1]]
    body = {"description": nofit["suggestions"][0]["id"], "no_description_fits": True, "note": "events"}
    r = client.post(f"/v1/review/{nofit['id']}", json=body, headers=REVIEWER)
    assert r.status_code == 200, r.text
    [decision] = r.json()["decisions"]
    assert decision["no_description_fits"] is True and decision["note"] == "events"
    body = {"description": plain["suggestions"][0]["id"]}
    assert (
        client.post(f"/v1/review/{plain['id']}", json=body, headers=REVIEWER).json()["decisions"][0][
            "no_description_fits"
        ]
        is False
    )
    with client.app.state.sessions() as session:
        frame = latest_decisions(session.get_bind())
    assert frame["contact_id"].tolist() == [ids[1]]  # the "no description fits" answer is left out
