"""The monthly pack and the period report on a small SQLite store with hand-counted months."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from contactlens import monthly, reports, taxonomy
from contactlens.errors import ContactLensError
from contactlens.routing import backfill_owners
from contactlens.store import Contact, make_engine, session_factory, upgrade

ROOT = Path(__file__).resolve().parents[2]
TAX = taxonomy.load(ROOT / "data" / "taxonomy.yaml")
# (month, description, sentiment, how many): late deliveries jump from 5 to 40 in October
ROWS = [
    ("2026-09", "late_delivery", "negative", 5),
    ("2026-09", "damaged_on_arrival", "negative", 20),
    ("2026-09", "missed_delivery_slot", "neutral", 10),
    ("2026-10", "late_delivery", "negative", 40),
    ("2026-10", "damaged_on_arrival", None, 18),
    ("2026-10", "missed_delivery_slot", "positive", 9),
]


@pytest.fixture
def session(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    with session_factory(engine)() as s:
        with s.begin():
            for month, did, sentiment, n in ROWS:
                for k in range(n):
                    s.add(
                        Contact(
                            text=f"contact {k}",
                            text_redacted=True,
                            channel="email",
                            received_at=datetime.fromisoformat(f"{month}-{k % 28 + 1:02d}T10:00"),
                            logged_by="test",
                            description_id=did,
                            sentiment=sentiment,
                            current_description_id=did,
                            current_group_id=TAX.descriptions[did].group,
                            current_sentiment=sentiment,
                        )
                    )
        with s.begin():  # stored without owners, as before migration 0003: routed from the taxonomy
            assert backfill_owners(s, TAX) == 2 * sum(n for *_, n in ROWS)
        yield s
    engine.dispose()


def test_owners_are_filled_from_the_taxonomy(session) -> None:
    owners = set(session.scalars(select(Contact.current_owner)))
    assert owners == {"Distribution team", "Home Delivery Scheduling"}


def test_the_pack_shows_the_movers_with_counts_and_significance(session, tmp_path: Path) -> None:
    pack = monthly.pack(session, TAX, monthly.parse_month("2026-10"))
    assert (pack["month"], pack["previous"], pack["contacts"]) == ("2026-10", "2026-09", 67)
    assert (pack["change"]["previous_contacts"], pack["change"]["change"]) == (35, 32)
    top = pack["movers"][0]
    assert (top["value"], top["contacts"], top["previous_contacts"], top["change"]) == (
        "late_delivery",
        40,
        5,
        35,
    )
    assert top["significant"] is True  # 5/35 -> 40/67 of the month
    assert {o["value"]: o["contacts"] for o in pack["owners"]} == {
        "Distribution team": 58,
        "Home Delivery Scheduling": 9,
    }
    delivery = pack["sentiment"][0]
    assert (delivery["negative"], delivery["unknown"], delivery["positive"]) == (40, 18, 9)
    html = monthly.render_html(pack)
    assert html.count("data:image/png;base64,") == 4 and "Top movers against 2026-09" in html
    csv = monthly.to_csv(pack)
    assert csv.splitlines()[0].startswith("section,period,value,contacts")
    assert "movers,2026-10,late_delivery,40," in csv


def test_a_bad_month_is_one_line() -> None:
    with pytest.raises(ContactLensError, match="not a month like 2026-10"):
        monthly.parse_month("October")


def test_a_range_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(reports.RangeError, match="'from'"):
        reports.bounds(datetime(2026, 11, 1), datetime(2026, 10, 1))


def test_an_old_id_is_routed_to_its_successors_owner_and_stored_owners_stay(session) -> None:
    from contactlens.routing import owners

    table = owners(TAX)
    assert table["parcel_lost"] == table["lost_in_transit"] == "Distribution team"
    raw = {**TAX.to_dict(), "version": "2026.2"}
    for group in raw["groups"]:
        for d in group["descriptions"]:
            if d["id"] == "late_delivery":
                d["owner"] = "Another team"
    moved = taxonomy.Taxonomy.from_dict(raw)
    assert owners(moved)["late_delivery"] == "Another team"
    with session.begin():
        assert backfill_owners(session, moved) == 0  # routed contacts keep the owner they were routed to
    stored = set(
        session.scalars(
            select(Contact.current_owner).where(Contact.current_description_id == "late_delivery")
        )
    )
    assert stored == {"Distribution team"}
