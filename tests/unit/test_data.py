from pathlib import Path

import pandas as pd
import pytest

from contactlens import data as datamod
from contactlens.errors import DataError
from contactlens.taxonomy import Migration, Taxonomy

ROWS = [
    {"msg": "Parcel is late again", "cat": "late", "sentiment": "negative"},
    {"msg": "Lovely staff in Leeds", "cat": "praise", "sentiment": "positive"},
]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_load_formats_with_column_mapping(tmp_path: Path, suffix: str):
    frame = pd.DataFrame(ROWS)
    path = tmp_path / f"d{suffix}"
    {
        ".csv": lambda: frame.to_csv(path, index=False),
        ".jsonl": lambda: frame.to_json(path, orient="records", lines=True),
        ".parquet": lambda: frame.to_parquet(path),
    }[suffix]()
    loaded = datamod.load(path, datamod.Columns(text="msg", label="cat"))
    assert loaded["text"].tolist() == ["Parcel is late again", "Lovely staff in Leeds"]
    assert loaded["description"].tolist() == ["late", "praise"]


def test_load_errors_name_file_and_fix(tmp_path: Path):
    with pytest.raises(DataError, match="no such file"):
        datamod.load(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="the file is empty"):
        datamod.load(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("text,description\n")
    with pytest.raises(DataError, match="header but no rows"):
        datamod.load(tmp_path / "header.csv")
    (tmp_path / "cols.csv").write_text("text,category\nhello,x\n")
    with pytest.raises(DataError, match="missing column 'description' .*--label-col"):
        datamod.load(tmp_path / "cols.csv")
    (tmp_path / "latin.csv").write_bytes(b"text,description\nok,a\ncaf\xe9,b\n")
    with pytest.raises(DataError, match=r"not UTF-8 text \(line 3\)"):
        datamod.load(tmp_path / "latin.csv")
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(DataError, match="unknown file type"):
        datamod.load(tmp_path / "x.xlsx")


def frame(rows):
    return pd.DataFrame(rows, columns=["text", "description", "sentiment"])


def test_check_finds_problems():
    f = frame(
        [
            ["Where is my parcel", "late", "negative"],
            ["where is my parcel?", "late", "negative"],
            ["Where is my parcel", "late", "negative"],
            ["Refund please", "refund", "neutral"],
            ["Refund please", "late", "neutral"],
            ["  ", "late", "negative"],
            ["Great service", "praise", "happy"],
        ]
    )
    tax = Taxonomy.from_labels(["late", "refund"], "t")
    other = frame([["WHERE is my parcel", "late", "negative"]])
    r = datamod.check(f, "f.csv", tax, other)
    text = " | ".join(r.errors + r.warnings)
    assert r.rows == 7 and r.label_counts["late"] == 5
    assert "1 empty texts (rows 6)" in text
    assert "exact duplicate texts (rows 3, 5)" in text
    assert "near duplicates" in text
    assert "1 texts appear with conflicting descriptions" in text
    assert "sentiment other than negative/neutral/positive (rows 7)" in text
    assert "1 labels unknown to taxonomy 1 (1 rows: 7), first: praise" in text
    assert "3 texts also in the other file" in text


def test_check_clean_frame_has_no_errors():
    f = frame([["Where is my parcel", "late", "negative"], ["Refund please", "refund", "neutral"]])
    r = datamod.check(f, "f.csv", Taxonomy.from_labels(["late", "refund"], "t"))
    assert r.errors == [] and r.warnings == []


def test_migrations_applied_to_labels():
    tax = Taxonomy.from_dict(
        {
            "name": "t",
            "version": "2",
            "groups": [{"id": "g", "name": "G", "descriptions": [{"id": "lost_in_transit", "name": "Lost"}]}],
            "migrations": [{"from": "parcel_lost", "to": "lost_in_transit"}],
        }
    )
    f = frame([["gone", "parcel_lost", "negative"]])
    assert datamod.apply_migrations(f, tax)["description"].tolist() == ["lost_in_transit"]
    assert datamod.check(f, "f", tax).errors == []


def test_iter_raw_chunks_keeps_columns(tmp_path: Path):
    pd.DataFrame({"body": [f"text {i}" for i in range(10)], "ref": range(10)}).to_csv(
        tmp_path / "a.csv", index=False
    )
    chunks = list(datamod.iter_raw_chunks(tmp_path / "a.csv", "body", chunksize=4))
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert list(chunks[0].columns) == ["body", "ref"]
    with pytest.raises(DataError, match="missing column 'text'"):
        list(datamod.iter_raw_chunks(tmp_path / "a.csv", "text"))


def test_data_hash_changes_with_labels():
    a = frame([["x", "late", "negative"]])
    b = frame([["x", "refund", "negative"]])
    assert datamod.data_hash(a) != datamod.data_hash(b)
    assert datamod.data_hash(a) == datamod.data_hash(a.copy())


# ------------------------------------------------------------------------------------ multi-label cells


@pytest.mark.parametrize(
    ("cell", "pairs"),
    [
        ("late", [("late", None)]),
        (" late ; refund ", [("late", None), ("refund", None)]),
        ("late:negative;praise:Positive", [("late", "negative"), ("praise", "positive")]),
        ("late:negative;refund", [("late", "negative"), ("refund", None)]),
        ("late;", [("late", None)]),
        ("", []),
    ],
)
def test_parse_labels(cell, pairs):
    assert datamod.parse_labels(cell) == pairs
    if pairs:
        assert datamod.parse_labels(datamod.format_labels(pairs)) == pairs


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("late;;refund", "item 2 of the description list 'late;;refund' is empty"),
        ("late;late:negative", "description 'late' appears twice in 'late;late:negative'"),
        (
            "late:furious",
            "unknown sentiment 'furious' for 'late' in 'late:furious': use negative/neutral/positive",
        ),
        (":negative", "item 1 of the description list ':negative' has no description id"),
    ],
)
def test_parse_labels_refuses_bad_cells(cell, message):
    with pytest.raises(ValueError) as err:
        datamod.parse_labels(cell)
    assert str(err.value) == message


def test_load_names_the_row_of_a_bad_cell(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,description\nfine,late\nboth,late:negative;refund:cross\n")
    with pytest.raises(DataError) as err:
        datamod.load(path)
    assert str(err.value) == (
        f"{path}: row 2: unknown sentiment 'cross' for 'refund' in 'late:negative;refund:cross': "
        "use negative/neutral/positive"
    )


def test_with_labels_primary_pairs_and_derived_overall_sentiment():
    f = datamod.with_labels(
        frame(
            [
                ["late and rude", "late:negative;rude:negative", ""],
                ["late but kind staff", "late:negative;praise:positive", "negative"],
                ["mixed, no overall", "late:negative;praise:positive", ""],
                ["plain", "refund", "neutral"],
            ]
        )
    )
    assert f["description"].tolist() == ["late", "late", "late", "refund"]
    assert f["labels"].tolist() == [("late", "rude"), ("late", "praise"), ("late", "praise"), ("refund",)]
    # One sentiment shared by every pair becomes the overall one; mixed pairs leave it unset.
    assert f["sentiment"].tolist() == ["negative", "negative", "", "neutral"]
    assert datamod.pair_sentiments(f) == [
        ("negative", "negative"),
        ("negative", "positive"),
        ("negative", "positive"),
        ("neutral",),
    ]
    assert datamod.is_multilabel(f) and not datamod.is_multilabel(frame([["a", "late", ""]]))


def test_migrations_apply_to_every_position_and_merge_duplicates():
    tax = Taxonomy.from_labels(["lost", "late"], "t")
    tax.migrations = [Migration("parcel_lost", "lost"), Migration("missing", "lost")]
    f = frame(
        [
            ["a", "late:negative;parcel_lost:neutral", ""],
            ["b", "parcel_lost:negative;missing:positive;late", ""],
        ]
    )
    out = datamod.apply_migrations(f, tax)
    assert out["labels"].tolist() == [("late", "lost"), ("lost", "late")]
    assert out["label_sentiments"].tolist() == [("negative", "neutral"), ("negative", "")]
    assert out["description"].tolist() == ["late", "lost"]
    assert datamod.label_cells(out) == ["late:negative;lost:neutral", "lost:negative;late"]


def test_check_counts_every_description_and_names_rows_of_unknown_ids():
    f = frame(
        [
            ["late and rude", "late;rude", "negative"],
            ["late", "late", "negative"],
            ["nice", "praise:positive", ""],
            ["???", ";", ""],
        ]
    )
    tax = Taxonomy.from_labels(["late", "rude"], "t")
    r = datamod.check(f, "f.csv", tax)
    assert r.label_counts == {"late": 2, "rude": 1, "praise": 1}
    assert r.details["rows_with_several_descriptions"] == 1
    assert "1 rows without a description (rows 4)" in r.errors
    assert "1 labels unknown to taxonomy 1 (1 rows: 3), first: praise" in r.errors
