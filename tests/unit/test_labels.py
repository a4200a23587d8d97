"""Labels as they are: any text of at most 200 characters, each with a safe id in the taxonomy."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from contactlens import data as datamod
from contactlens import taxonomy as taxmod
from contactlens.errors import DataError, TaxonomyError
from contactlens.taxonomy import Taxonomy, ids_for_labels, is_id

REAL = [
    "reverted_card_payment?",  # BANKING77
    "Customer Service Issue",  # airline complaint reasons
    "Can't Tell",
    "FOOD#QUALITY",  # aspect categories
    "Credit card or prepaid card",
    "Réclamation / remboursement",
    "退款",
    "Billing: late fee",
    "a;b",
]


def test_every_label_gets_a_safe_id_and_valid_labels_keep_theirs():
    ids = ids_for_labels([*REAL, "card_arrival"])
    assert all(is_id(i) for i in ids.values())
    assert len(set(ids.values())) == len(ids)
    assert ids["card_arrival"] == "card_arrival"
    assert ids["reverted_card_payment?"] == "reverted_card_payment"
    assert ids["Customer Service Issue"] == "customer_service_issue"
    assert ids["Can't Tell"] == "can_t_tell"
    assert ids["FOOD#QUALITY"] == "food_quality"
    assert ids["Réclamation / remboursement"] == "reclamation_remboursement"


def test_labels_that_slug_alike_get_a_short_suffix_and_the_same_one_every_time():
    labels = ["Card payment", "card payment", "card_payment"]
    ids = ids_for_labels(labels)
    assert ids["card_payment"] == "card_payment"  # a valid id is never displaced
    assert (
        ids["Card payment"].startswith("card_payment-")
        and len(ids["Card payment"]) == len("card_payment") + 7
    )
    assert ids["Card payment"] != ids["card payment"]
    assert ids_for_labels(reversed(labels)) == ids


def test_a_taxonomy_from_labels_round_trips_and_maps_labels_to_ids(tmp_path: Path):
    tax = Taxonomy.from_labels([*REAL, "card_arrival"], "real")
    tax.save(tmp_path / "t.yaml")
    again = taxmod.load(tmp_path / "t.yaml")
    assert again.descriptions == tax.descriptions
    for label in REAL:
        did = again.id_of(label)
        assert again.descriptions[did].name == label and again.descriptions[did].raw_label == label
    assert again.id_of("card_arrival") == "card_arrival"
    assert again.id_of("customer_service_issue") == "customer_service_issue"  # the id itself works too
    assert again.id_of("nope") == "nope"


@pytest.mark.parametrize(
    ("labels", "message"),
    [([" ", "a"], "the label is empty"), (["x" * 201, "a"], "longer than 200 characters")],
)
def test_empty_or_overlong_labels_are_refused(labels, message):
    with pytest.raises(TaxonomyError, match=message):
        Taxonomy.from_labels(labels, "t")


def _doc(*descriptions: dict) -> dict:
    return {
        "name": "t",
        "version": "1",
        "groups": [{"id": "g", "name": "G", "descriptions": list(descriptions)}],
    }


def test_validate_still_refuses_a_hand_written_bad_id():
    with pytest.raises(
        TaxonomyError, match=r"description 'reverted_card_payment\?': field 'id' may hold only"
    ):
        Taxonomy.from_dict(_doc({"id": "reverted_card_payment?", "name": "Reverted"}))


@pytest.mark.parametrize(
    ("descriptions", "message"),
    [
        (
            [{"id": "a", "name": "A", "label": "X"}, {"id": "b", "name": "B", "label": "X"}],
            "descriptions 'a' and 'b' have the same label 'X'",
        ),
        (
            [{"id": "a", "name": "A", "label": "b"}, {"id": "b", "name": "B"}],
            "field 'label' 'b' is the id of another description",
        ),
        ([{"id": "a", "name": "A", "label": "y" * 201}], "field 'label': label 'yyy"),
    ],
)
def test_a_label_names_one_description(descriptions, message):
    with pytest.raises(TaxonomyError, match=message):
        Taxonomy.from_dict(_doc(*descriptions))


def _frame(*cells: str) -> pd.DataFrame:
    return pd.DataFrame({"text": [f"t{i}" for i in range(len(cells))], "description": list(cells)})


def test_cells_map_to_ids_through_the_taxonomy_even_when_labels_hold_separators():
    tax = Taxonomy.from_labels(["a;b", "Billing: late fee", "c", "Re:refund", "x:negative"], "t")
    f = datamod.to_taxonomy(
        _frame(
            "a;b", "a;b:positive;c", "Billing: late fee:negative", "Re:refund", "c;Re:refund", "x:negative"
        ),
        tax,
    )
    ids = {lab: tax.id_of(lab) for lab in ["a;b", "Billing: late fee", "c", "Re:refund", "x:negative"]}
    assert f["labels"].tolist() == [
        (ids["a;b"],),
        (ids["a;b"], "c"),
        (ids["Billing: late fee"],),
        (ids["Re:refund"],),
        ("c", ids["Re:refund"]),
        (ids["x:negative"],),  # a whole cell that is a known label is that label
    ]
    assert f["label_sentiments"].tolist()[1] == ("positive", "")
    assert f["label_sentiments"].tolist()[2] == ("negative",)
    assert f["label_cell"].tolist()[0] == "a;b"


def test_without_a_taxonomy_the_cell_syntax_decides_and_other_colons_belong_to_the_label():
    assert datamod.parse_labels("Billing: late fee") == [("Billing: late fee", None)]
    assert datamod.parse_labels("Time 10:30;b:neutral") == [("Time 10:30", None), ("b", "neutral")]
    with pytest.raises(ValueError, match="unknown sentiment 'refund' for 'Re'"):
        datamod.parse_labels("Re:refund")


def test_unknown_and_overlong_labels_name_the_row():
    tax = Taxonomy.from_labels(["Late Flight"], "t")
    with pytest.raises(DataError, match=r"f: row 2: 'Lost Luggage' is not a description of taxonomy 1"):
        datamod.to_taxonomy(_frame("Late Flight", "Lost Luggage"), tax, "f")
    with pytest.raises(DataError, match=r"f: row 1: label 'zzz.*' is longer than 200 characters"):
        datamod.with_labels(_frame("z" * 201), "f")


def test_a_file_column_called_labels_is_not_taken_for_the_parsed_lists(tmp_path: Path):
    path = tmp_path / "nlu.csv"
    path.write_text("text,labels,intent\nbook a room,booking;room,booking\nspa?,spa,spa\n")
    f = datamod.load(path, datamod.Columns(label="intent"))
    assert f["labels"].tolist() == [("booking",), ("spa",)]
    assert f["labels_in_file"].tolist() == ["booking;room", "spa"]
    g = datamod.load(path, datamod.Columns(label="labels"))
    assert g["labels"].tolist() == [("booking", "room"), ("spa",)]


def test_labels_are_discovered_without_a_taxonomy_even_with_a_colon(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text("text,topic\nclose it,Account:Close\nopen one,Account:Open;Billing:negative\n")
    f = datamod.load(path, datamod.Columns(label="topic"), strict=False)
    assert f["labels"].tolist() == [("Account:Close",), ("Account:Open", "Billing")]
    tax = Taxonomy.from_labels(f["labels"].explode(), "d")
    g = datamod.load(path, datamod.Columns(label="topic"), taxonomy=tax)
    assert g["labels"].tolist() == [("account_close",), ("account_open", "Billing")]
    with pytest.raises(DataError, match="unknown sentiment 'Close' for 'Account'"):
        datamod.load(path, datamod.Columns(label="topic"))  # strict, as a data file of ids is read
