from pathlib import Path

import pandas as pd
import pytest

from contactlens import data as datamod
from contactlens.errors import DataError
from contactlens.taxonomy import Taxonomy

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
    assert "1 labels unknown to taxonomy 1 (1 rows), first: praise" in text
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
