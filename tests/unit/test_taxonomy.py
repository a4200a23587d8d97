from pathlib import Path

import pytest
import yaml

from contactlens import taxonomy as taxmod
from contactlens.errors import TaxonomyError


def doc(**over):
    base = {
        "name": "Shop",
        "version": "1",
        "groups": [
            {
                "id": "delivery",
                "name": "Delivery",
                "descriptions": [
                    {
                        "id": "late",
                        "name": "Goods not delivered on time",
                        "owner": "Distribution",
                        "guidance": "Use when late.",
                        "examples": ["still waiting"],
                        "status": "active",
                    },
                    {"id": "lost", "name": "Lost in transit", "owner": "Distribution"},
                ],
            },
            {
                "id": "store",
                "name": "Store",
                "descriptions": [{"id": "rude", "name": "Staff rude", "owner": "Stores"}],
            },
        ],
    }
    base.update(over)
    return base


def test_valid_taxonomy_parses():
    tax = taxmod.Taxonomy.from_dict(doc())
    assert tax.active_ids == ["late", "lost", "rude"]
    assert tax.group_of("rude").name == "Store"
    assert tax.descriptions["late"].examples == ("still waiting",)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["groups"][0]["descriptions"].append({"id": "late", "name": "Again"}),
            "duplicate description id 'late'",
        ),
        (
            lambda d: d["groups"][0]["descriptions"][1].update(name=" "),
            "description 'lost': field 'name' is empty",
        ),
        (
            lambda d: d["groups"][0]["descriptions"][1].update(status="gone"),
            "description 'lost': field 'status' is 'gone'",
        ),
        (
            lambda d: d.update(descriptions=[{"id": "orphan", "name": "Orphan"}]),
            "description 'orphan': in no group",
        ),
        (
            lambda d: d.update(descriptions=[{"id": "x", "name": "X", "group": "nope"}]),
            "description 'x': in no group",
        ),
        (lambda d: d["groups"].append({"id": "store", "name": "Dup"}), "duplicate group id 'store'"),
        (lambda d: d.update(version=""), "field 'version' is empty"),
        (lambda d: d.update(groups=[]), "field 'groups' must be a non-empty list"),
        (
            lambda d: d.update(migrations=[{"from": "old", "to": "missing"}]),
            "migration 'old': field 'to' names unknown",
        ),
        (lambda d: d["groups"][0]["descriptions"][0].update(id="bad id!"), "may hold only letters"),
    ],
)
def test_invalid_taxonomies_name_field_and_id(mutate, message):
    d = doc()
    mutate(d)
    with pytest.raises(TaxonomyError, match=message):
        taxmod.Taxonomy.from_dict(d)


def test_flat_form_with_group_field():
    d = doc()
    d["descriptions"] = [{"id": "queue", "name": "Queues at tills", "group": "store"}]
    tax = taxmod.Taxonomy.from_dict(d)
    assert tax.group_of("queue").id == "store"


def test_migrations_follow_chains():
    d = doc(migrations=[{"from": "a", "to": "lost"}, {"from": "b", "to": "a"}])
    d["migrations"][0]["to"] = "lost"
    tax = taxmod.Taxonomy.from_dict(d)
    assert tax.migrate("b") == "lost"
    assert tax.migrate("a") == "lost"
    assert tax.migrate("late") == "late"


def test_save_load_round_trip(tmp_path: Path):
    d = doc(migrations=[{"from": "old_late", "to": "late", "since": "2", "reason": "renamed"}])
    tax = taxmod.Taxonomy.from_dict(d)
    tax.save(tmp_path / "t.yaml")
    again = taxmod.load(tmp_path / "t.yaml")
    assert again.descriptions == tax.descriptions
    assert again.migrations == tax.migrations


def test_load_errors(tmp_path: Path):
    with pytest.raises(TaxonomyError, match="no such file"):
        taxmod.load(tmp_path / "missing.yaml")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(TaxonomyError, match="empty"):
        taxmod.load(tmp_path / "empty.yaml")
    (tmp_path / "bad.yaml").write_text("name: [unclosed")
    with pytest.raises(TaxonomyError, match="not valid YAML"):
        taxmod.load(tmp_path / "bad.yaml")
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(TaxonomyError, match="not UTF-8"):
        taxmod.load(tmp_path / "latin1.yaml")


def test_diff_reports_each_kind_of_change():
    old = taxmod.Taxonomy.from_dict(doc())
    d = doc(migrations=[{"from": "lost", "to": "late", "reason": "merged"}])
    d["groups"][0]["descriptions"].pop(1)  # lost merged into late
    d["groups"][0]["descriptions"][0].update(name="Late delivery", owner="Logistics")
    d["groups"][1]["descriptions"][0]["status"] = "retired"
    d["groups"][1]["descriptions"].append({"id": "queue", "name": "Queues", "owner": "Stores"})
    new_group = {
        "id": "web",
        "name": "Web",
        "descriptions": [{"id": "late2", "name": "Late web", "owner": "Web"}],
    }
    d["groups"].append(new_group)
    new = taxmod.Taxonomy.from_dict(d)
    diff = taxmod.diff(old, new)
    assert diff.added == ["queue", "late2"]
    assert diff.retired == ["rude"]
    assert diff.renamed == [("late", "Goods not delivered on time", "Late delivery")]
    assert diff.owner_changed == [("late", "Distribution", "Logistics")]
    assert diff.migrated == [("lost", "late")]
    assert diff.removed == []
    moved = doc()
    moved["groups"][1]["descriptions"].append(moved["groups"][0]["descriptions"].pop(1))
    assert taxmod.diff(old, taxmod.Taxonomy.from_dict(moved)).moved == [("lost", "delivery", "store")]
    assert taxmod.diff(old, old).empty


def test_from_labels_is_flat_and_valid(tmp_path: Path):
    tax = taxmod.Taxonomy.from_labels(["card_arrival", "lost_or_stolen_card", "card_arrival"], name="banking")
    assert sorted(tax.descriptions) == ["card_arrival", "lost_or_stolen_card"]
    assert tax.descriptions["card_arrival"].name == "card_arrival"  # the label as written
    tax.save(tmp_path / "t.yaml")
    assert yaml.safe_load((tmp_path / "t.yaml").read_text())["groups"][0]["id"] == "all"
