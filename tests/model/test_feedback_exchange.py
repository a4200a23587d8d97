"""Gathering reviewed labels from the store, and exchanging labels with annotation tools (export/import)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from contactlens import taxonomy as taxmod
from contactlens.cli import app
from contactlens.errors import DataError
from contactlens.settings import get_settings
from contactlens.store import (
    DECIDED,
    Contact,
    ReviewDecision,
    ReviewItem,
    make_engine,
    session_factory,
    upgrade,
)
from tests.conftest import DATA
from training import exchange
from training.feedback import gather, open_store
from training.retrain import split_feedback

TAX = taxmod.load(DATA / "taxonomy.yaml")
JAN, FEB, MAR = datetime(2026, 1, 10), datetime(2026, 2, 10), datetime(2026, 3, 10)


@pytest.fixture
def store(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def add(
    engine, text: str, logged: str = "late_delivery", decisions=(), queued: bool = True
) -> tuple[int, int]:
    """A logged contact, queued for review, with decisions (description, when[, reviewer, sentiment]); a
    decision's description may be a list of (id, sentiment), primary first."""
    with session_factory(engine)() as s, s.begin():
        group = TAX.descriptions[logged].group
        contact = Contact(
            text=text,
            text_redacted=True,
            channel="email",
            received_at=JAN,
            logged_by="logger",
            description_id=logged,
            current_description_id=logged,
            current_group_id=group,
        )
        if queued:
            contact.review = ReviewItem(reason="disagreement", created_at=JAN)
        s.add(contact)
        s.flush()
        for i, (desc, when, *rest) in enumerate(decisions):
            reviewer, sentiment = rest if rest else ("rev", None)
            contact.review.status, contact.review.decided_at = DECIDED, when
            several = desc if isinstance(desc, list) else None  # [(id, sentiment)], as the service stores
            s.add(
                ReviewDecision(
                    item=contact.review,
                    reviewer=reviewer,
                    decided_at=when,
                    description_id=several[0][0] if several else desc,
                    sentiment=several[0][1] if several else sentiment,
                    descriptions=[{"id": d, "sentiment": x} for d, x in several] if several else None,
                    override=i > 0,
                )
            )
        return contact.id, contact.review.id if queued else 0


# ------------------------------------------------------------------------------------------------ gathering


def test_the_latest_decision_wins_and_only_decided_contacts_count(store):
    a, _ = add(store, "Parcel never came", decisions=[("late_delivery", JAN), ("lost_in_transit", FEB)])
    b, _ = add(
        store, "Charged me twice", "charged_twice", decisions=[("charged_twice", JAN, "ann", "negative")]
    )
    add(store, "Still pending", queued=True)
    add(store, "Never queued", queued=False)
    fb = gather(store, TAX)
    labels = dict(zip(fb.frame["contact_id"], fb.frame["description"], strict=True))
    assert labels == {a: "lost_in_transit", b: "charged_twice"}
    row = fb.frame.set_index("contact_id").loc[b]
    assert (row["reviewer"], row["sentiment"]) == ("ann", "negative")


def test_since_filters_on_the_latest_decision(store):
    late, _ = add(store, "Overridden in March", decisions=[("late_delivery", JAN), ("lost_in_transit", MAR)])
    add(store, "Decided in January", decisions=[("late_delivery", JAN)])
    fb = gather(store, TAX, since=FEB)
    assert fb.frame["contact_id"].tolist() == [late]
    assert fb.frame["description"].tolist() == ["lost_in_transit"]
    assert "decided since 2026-02-10" in fb.summary()[0]


def test_old_labels_are_migrated_to_the_current_taxonomy(store):
    add(store, "Where is my parcel, it is lost", decisions=[("parcel_lost", JAN)])
    add(store, "Does the offer include sale items", decisions=[("promotion_query", JAN)])
    fb = gather(store, TAX)
    assert fb.frame["description"].tolist() == ["lost_in_transit", "promotion_not_applied"]
    assert fb.frame["original_description"].tolist() == ["parcel_lost", "promotion_query"]
    assert fb.migrated == 2


def test_several_descriptions_become_one_label_cell(store):
    a, _ = add(
        store,
        "Late, and the driver was lovely",
        decisions=[([("late_delivery", "negative"), ("driver_conduct", "positive")], JAN)],
    )
    b, _ = add(
        store, "Late and the queue", decisions=[([("late_delivery", None), ("till_queues", "neutral")], JAN)]
    )
    one, _ = add(store, "Only late", decisions=[([("late_delivery", "negative")], JAN)])
    # parcel_lost migrates to lost_in_transit, then listed twice: kept once, where it came first.
    c, _ = add(
        store,
        "Lost parcel, rude driver",
        decisions=[
            ([("parcel_lost", "negative"), ("driver_conduct", None), ("lost_in_transit", "positive")], JAN)
        ],
    )
    d, _ = add(
        store, "Lost twice", decisions=[([("lost_in_transit", "negative"), ("parcel_lost", None)], JAN)]
    )
    # The latest decision wins, whether it has one description or several.
    e, _ = add(
        store,
        "Changed my mind",
        decisions=[
            ([("late_delivery", None), ("till_queues", None)], JAN),
            ("till_queues", FEB, "rev", "neutral"),
        ],
    )
    fb = gather(store, TAX)
    rows = fb.frame.set_index("contact_id")
    assert rows["description"].to_dict() == {
        a: "late_delivery:negative;driver_conduct:positive",
        b: "late_delivery;till_queues:neutral",
        one: "late_delivery",
        c: "lost_in_transit:negative;driver_conduct",
        d: "lost_in_transit:negative",
        e: "till_queues",
    }
    assert (
        rows.loc[c, "original_description"] == "parcel_lost:negative;driver_conduct;lost_in_transit:positive"
    )
    assert (rows.loc[a, "sentiment"], rows.loc[e, "sentiment"]) == ("negative", "neutral")  # the primary's
    assert fb.migrated == 2


def test_a_label_cell_reads_back_as_the_decision(store):
    from contactlens import data as datamod

    if not hasattr(datamod, "parse_labels"):
        pytest.skip("contactlens.data has no label-cell parser yet")
    add(
        store,
        "Late, and the driver was lovely",
        decisions=[([("late_delivery", "negative"), ("driver_conduct", None)], JAN)],
    )
    [cell] = gather(store, TAX).frame["description"]
    assert datamod.parse_labels(cell) == [("late_delivery", "negative"), ("driver_conduct", None)]


def test_an_unknown_id_among_several_is_refused_naming_it(store):
    cid, _ = add(
        store,
        "Teleporter and parcel",
        decisions=[([("late_delivery", None), ("teleporter_fault", None)], JAN)],
    )
    with pytest.raises(DataError, match=rf"not in taxonomy 2026.1: teleporter_fault \(contacts {cid}\)"):
        gather(store, TAX)


def test_conflicting_labels_are_reported_by_contact_and_left_out(store):
    a, _ = add(store, "My parcel is late!", decisions=[("late_delivery", JAN)])
    b, _ = add(store, "my parcel is LATE", decisions=[("lost_in_transit", JAN)])
    c, _ = add(store, "Rude driver", decisions=[("driver_conduct", JAN)])
    d, _ = add(store, "rude driver.", decisions=[("driver_conduct", JAN)])
    fb = gather(store, TAX)
    assert sorted(fb.frame["contact_id"]) == [c, d]
    assert fb.conflicts == [{"labels": {"late_delivery": [a], "lost_in_transit": [b]}}]
    line = fb.summary()[-1]
    assert f"late_delivery: contacts {a}; lost_in_transit: contacts {b}" in line
    assert "parcel" not in line.lower(), "reports name contacts, never verbatims"


def test_retired_labels_without_migration_are_refused_naming_the_contacts(store):
    raw = yaml.safe_load((DATA / "taxonomy.yaml").read_text())
    raw["migrations"] = [m for m in raw["migrations"] if m["from"] != "promotion_query"]
    tax = taxmod.Taxonomy.from_dict(raw)
    cid, _ = add(store, "How long does the offer run", decisions=[("promotion_query", JAN)])
    with pytest.raises(
        DataError, match=rf"retired descriptions with no migration .*promotion_query \(contacts {cid}\)"
    ):
        gather(store, tax)


def test_labels_outside_the_taxonomy_are_refused(store):
    cid, _ = add(store, "Teleporter broke", decisions=[("teleporter_fault", JAN)])
    with pytest.raises(DataError, match=rf"not in taxonomy 2026.1: teleporter_fault \(contacts {cid}\)"):
        gather(store, TAX)


def test_a_database_without_review_tables_is_named(tmp_path: Path):
    with pytest.raises(DataError, match="no review tables"):
        open_store(f"sqlite:///{tmp_path / 'empty.db'}")


def test_the_held_out_split_is_fixed_and_keeps_duplicates_together():
    texts = [f"contact number {i} about a parcel" for i in range(400)] + ["Same text", "same TEXT!"]
    frame = pd.DataFrame({"text": texts, "description": "late_delivery"})
    train, held = split_feedback(frame)
    assert 0.14 < len(held) / len(frame) < 0.26
    again_train, again_held = split_feedback(frame.sample(frac=1, random_state=3))
    assert set(held["text"]) == set(again_held["text"])
    same = {"Same text", "same TEXT!"}
    assert same <= set(train["text"]) or same <= set(held["text"])


# ------------------------------------------------------------------------------------------------ export


def test_export_writes_pending_items_with_pre_annotations(store, sample_model, tmp_path: Path):
    add(store, "My sofa is two weeks late and nobody calls back")
    add(store, "You took the money twice for one order", "charged_twice")
    add(store, "Decided already", decisions=[("late_delivery", JAN)])
    frame = exchange.add_predictions(exchange.pending_frame(store), sample_model)
    assert len(frame) == 2
    (csv,) = exchange.write_export(frame, "csv", tmp_path / "out.csv", TAX)
    rows = pd.read_csv(csv, dtype=str, keep_default_na=False)
    assert rows.columns.tolist() == exchange.EXPORT_COLUMNS
    assert (rows["description"] == "").all(), "an untouched export must import nothing"
    assert rows["predicted_description"].tolist() == ["late_delivery", "charged_twice"]
    (jsonl,) = exchange.write_export(frame, "jsonl", tmp_path / "out.jsonl", TAX)
    first = json.loads(jsonl.read_text().splitlines()[0])
    assert first["review_item_id"] == 1 and json.loads(first["suggestions"])[0]["id"] == "late_delivery"
    tasks_path, config = exchange.write_export(frame, "label-studio", tmp_path / "tasks.json", TAX)
    task = json.loads(tasks_path.read_text())[0]
    assert task["data"]["review_item_id"] == 1 and task["data"]["text"].startswith("My sofa")
    (prediction,) = task["predictions"]
    assert prediction["model_version"] == sample_model.version and 0 < prediction["score"] <= 1
    assert prediction["result"][0] == {
        "from_name": "description",
        "to_name": "text",
        "type": "choices",
        "value": {"choices": ["late_delivery"]},
    }
    xml = config.read_text()
    assert '<Choice value="late_delivery"' in xml and '"promotion_query"' not in xml, (
        "retired ids are not offered"
    )


# ------------------------------------------------------------------------------------------------ import


def decisions(engine) -> list[tuple[int, str, str, bool]]:
    with engine.connect() as conn:
        stmt = select(
            ReviewDecision.review_item_id,
            ReviewDecision.description_id,
            ReviewDecision.reviewer,
            ReviewDecision.override,
        ).order_by(ReviewDecision.id)
        return [tuple(r) for r in conn.execute(stmt)]


def test_import_csv_records_decisions_like_a_reviewer(store, tmp_path: Path):
    cid, item = add(store, "Parcel shows delivered but never arrived")
    _, other = add(store, "Not labelled yet")
    path = tmp_path / "labels.csv"
    path.write_text(
        f"review_item_id,description,sentiment\n{item},parcel_lost,negative\n{other},,\n", encoding="utf-8"
    )
    labels, unlabelled = exchange.read_labels(path, reviewer="ann")
    result = exchange.write_decisions(store, exchange.validate_labels(labels, TAX, path), TAX, path)
    assert (result.written, unlabelled) == (1, 1)
    assert decisions(store) == [(item, "lost_in_transit", "ann", False)], "migrated, with the reviewer's name"
    with session_factory(store)() as s:
        contact = s.get_one(Contact, cid)
        assert (contact.current_description_id, contact.current_group_id) == ("lost_in_transit", "delivery")
        assert contact.current_sentiment == "negative" and contact.review.status == DECIDED


def test_an_unknown_id_is_one_error_naming_the_row_and_nothing_is_written(store, tmp_path: Path):
    _, a = add(store, "First")
    _, b = add(store, "Second")
    path = tmp_path / "labels.jsonl"
    rows = [
        {"review_item_id": a, "description": "late_delivery"},
        {"review_item_id": b, "description": "teleport"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    labels, _ = exchange.read_labels(path, reviewer="ann")
    with pytest.raises(
        DataError, match=r"labels.jsonl line 2: unknown description id 'teleport' .*nothing was imported"
    ):
        exchange.validate_labels(labels, TAX, path)
    assert decisions(store) == []


def test_import_takes_several_descriptions_in_one_cell(store, tmp_path: Path):
    cid, item = add(store, "Parcel lost but the driver was lovely")
    path = tmp_path / "labels.csv"
    path.write_text(
        "review_item_id,description,sentiment\n"
        f"{item},parcel_lost:negative;staff_compliment:positive;lost_in_transit,\n",
        encoding="utf-8",
    )
    labels = exchange.validate_labels(exchange.read_labels(path, reviewer="ann")[0], TAX, path)
    assert exchange.write_decisions(store, labels, TAX, path).written == 1
    with session_factory(store)() as s:
        contact = s.get_one(Contact, cid)
        # parcel_lost migrates to lost_in_transit, which the cell also names: it is kept once, first.
        assert [(d.description_id, d.sentiment) for d in contact.current_descriptions] == [
            ("lost_in_transit", "negative"),
            ("staff_compliment", "positive"),
        ]
        assert contact.current_sentiment == "negative"
        decision = s.scalars(select(ReviewDecision)).one()
        assert decision.descriptions == [
            {"id": "lost_in_transit", "sentiment": "negative"},
            {"id": "staff_compliment", "sentiment": "positive"},
        ]
    frame = gather(store, TAX).frame
    assert frame["description"].tolist() == ["lost_in_transit:negative;staff_compliment:positive"]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("late_delivery;teleport", "row 1: unknown description id 'teleport'"),
        ("late_delivery;late_delivery", "row 1: description 'late_delivery' appears twice"),
        ("late_delivery:cross", "row 1: unknown sentiment 'cross' for 'late_delivery'"),
    ],
)
def test_import_refuses_a_bad_list_naming_the_row(store, tmp_path: Path, cell, message):
    _, item = add(store, "First")
    path = tmp_path / "labels.csv"
    path.write_text(f"review_item_id,description\n{item},{cell}\n", encoding="utf-8")
    with pytest.raises(DataError, match="nothing was imported") as err:
        exchange.validate_labels(exchange.read_labels(path, reviewer="ann")[0], TAX, path)
    assert message in str(err.value)
    assert decisions(store) == []


def test_an_unknown_review_item_is_refused_and_nothing_is_written(store, tmp_path: Path):
    _, a = add(store, "First")
    path = tmp_path / "labels.csv"
    path.write_text(f"review_item_id,description\n{a},late_delivery\n999,late_delivery\n")
    labels = exchange.validate_labels(exchange.read_labels(path, "ann")[0], TAX, path)
    with pytest.raises(DataError, match="row 2: no review item 999 in the store; nothing was imported"):
        exchange.write_decisions(store, labels, TAX, path)
    assert decisions(store) == []


def test_decided_items_are_left_alone_unless_overridden(store, tmp_path: Path):
    _, item = add(store, "Decided", decisions=[("late_delivery", JAN)])
    path = tmp_path / "labels.csv"
    path.write_text(f"review_item_id,description,reviewer\n{item},lost_in_transit,bob\n")
    labels = exchange.validate_labels(exchange.read_labels(path)[0], TAX, path)
    assert exchange.write_decisions(store, labels, TAX, path).already_decided == [item]
    assert exchange.write_decisions(store, labels, TAX, path, override=True).written == 1
    assert decisions(store)[-1] == (item, "lost_in_transit", "bob", True)
    assert gather(store, TAX).frame["description"].tolist() == ["lost_in_transit"], (
        "the import's decision wins"
    )


def test_label_studio_export_latest_annotation_wins(store, tmp_path: Path):
    _, a = add(store, "First")
    _, b = add(store, "Second")
    _, c = add(store, "Third")

    def ann(choice: str, updated: str, cancelled: bool = False) -> dict:
        result = [exchange._choice("description", choice), exchange._choice("sentiment", "neutral")]
        return {
            "result": result,
            "updated_at": updated,
            "was_cancelled": cancelled,
            "completed_by": {"email": "x@y"},
        }

    tasks = [
        {
            "data": {"review_item_id": a},
            "annotations": [ann("late_delivery", "2026-01-01"), ann("lost_in_transit", "2026-02-01")],
        },
        {"data": {"review_item_id": b}, "annotations": [ann("charged_twice", "2026-03-01", cancelled=True)]},
        {"review_item_id": c, "description": "driver_conduct", "sentiment": "negative"},  # a JSON-MIN export
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    labels, unlabelled = exchange.read_labels(path, reviewer="team")
    assert unlabelled == 1, "a cancelled annotation is no label"
    assert [(x.review_item_id, x.description, x.sentiment, x.reviewer) for x in labels] == [
        (a, "lost_in_transit", "neutral", "x@y"),
        (c, "driver_conduct", "negative", "team"),
    ]


def test_rows_without_a_reviewer_name_are_refused(tmp_path: Path):
    path = tmp_path / "labels.csv"
    path.write_text("review_item_id,description\n1,late_delivery\n")
    with pytest.raises(DataError, match="row 1: no reviewer name; add a reviewer column or pass --reviewer"):
        exchange.read_labels(path)


def test_export_then_import_from_the_command_line(store, sample_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("CONTACTLENS_DATABASE_URL", str(store.url))
    monkeypatch.setenv("CONTACTLENS_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    add(store, "My order is a week late")
    add(store, "The delivery driver was rude to me")
    runner = CliRunner()
    tasks_path = tmp_path / "tasks.json"
    args = ["export", "--format", "label-studio", "--out", tasks_path, "--model", sample_model_dir]
    out = runner.invoke(app, [str(a) for a in args])
    assert out.exit_code == 0, out.output
    assert "exported 2 pending items" in out.output
    tasks = json.loads(tasks_path.read_text())
    for task in tasks:  # the annotator accepts the pre-annotation as it stands
        task["annotations"] = [
            {"result": task["predictions"][0]["result"], "completed_by": {"email": "ann@hh"}}
        ]
    tasks_path.write_text(json.dumps(tasks))
    out = runner.invoke(app, ["import", str(tasks_path), "--taxonomy", str(DATA / "taxonomy.yaml")])
    assert out.exit_code == 0, out.output
    assert "imported 2 labels" in out.output
    assert sorted(gather(store, TAX).frame["description"]) == ["driver_conduct", "late_delivery"]
    bad = tmp_path / "bad.csv"
    bad.write_text("review_item_id,description\n1,nope\n")
    out = runner.invoke(
        app, ["import", str(bad), "--reviewer", "x", "--taxonomy", str(DATA / "taxonomy.yaml")]
    )
    assert out.exit_code == 2 and "row 1: unknown description id 'nope'" in out.output
    get_settings.cache_clear()
