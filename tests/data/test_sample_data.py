"""Data tests on the sample in data/: schema, labels (single and multi-topic), coverage, leakage.

The label cells are parsed here by hand (split on ';' then ':'), so these checks describe the files themselves
and do not depend on how contactlens.data reads them.
"""

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from contactlens import data as datamod
from contactlens import taxonomy as taxmod

DATA = Path(__file__).resolve().parents[2] / "data"  # not via tests.conftest: `pytest tests/data` runs as is
COLUMNS = ["text", "description", "sentiment", "channel", "site", "received_at"]
SENTIMENTS = {"negative", "neutral", "positive"}
COMPLIMENTS = {"staff_compliment", "service_compliment"}


def read_raw(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name, dtype=str, keep_default_na=False, encoding="utf-8")


def pairs(cell: str) -> list[tuple[str, str | None]]:
    """`a` -> [(a, None)]; `a:negative;b:positive` -> [(a, negative), (b, positive)]."""
    out: list[tuple[str, str | None]] = []
    for item in cell.split(";"):
        desc, _, sentiment = item.partition(":")
        out.append((desc, sentiment if ":" in item else None))
    return out


def multi_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["description"].str.contains(";", regex=False)]


@pytest.fixture(scope="module")
def tax():
    return taxmod.load(DATA / "taxonomy.yaml")


@pytest.fixture(scope="module")
def train():
    return read_raw("train.csv")


@pytest.fixture(scope="module")
def test():
    return read_raw("test.csv")


def test_taxonomy_size_and_fields(tax):
    assert len(tax.groups) >= 6
    assert len(tax.active_ids) >= 25
    for d in tax.descriptions.values():
        assert d.owner and d.guidance, d.id
        assert 2 <= len(d.examples) <= 3, d.id
    assert any(not d.active for d in tax.descriptions.values()), "a retired description shows the lifecycle"
    assert tax.migrations, "the sample shows a migration map"


@pytest.mark.parametrize("split", ["train", "test"])
def test_schema(split, request):
    frame = request.getfixturevalue(split)
    assert list(frame.columns) == COLUMNS
    assert frame["text"].str.strip().ne("").all()
    assert frame["description"].str.strip().ne("").all()
    assert set(frame["sentiment"]) == SENTIMENTS
    assert set(frame["channel"]) <= set(datamod.CHANNELS)
    dates = pd.to_datetime(frame["received_at"], format="ISO8601")
    assert dates.notna().all()


@pytest.mark.parametrize("name", ["train.csv", "test.csv"])
def test_the_loader_reads_every_row(name):
    assert len(datamod.load(DATA / name)) == len(read_raw(name))


def test_size_and_spread(train, test):
    both = pd.concat([train, test])
    assert len(both) >= 1500
    assert set(both["channel"]) == set(datamod.CHANNELS)
    dates = pd.to_datetime(both["received_at"], format="ISO8601")
    assert (dates.max() - dates.min()).days >= 365
    assert both["site"].nunique() >= 5


@pytest.mark.parametrize("split", ["train", "test"])
def test_label_cells_are_well_formed(split, request):
    """A single id (no sentiment), or 2-3 `id:sentiment` pairs with distinct ids and a known sentiment."""
    for row, cell in enumerate(request.getfixturevalue(split)["description"], start=1):
        assert cell == cell.strip() and " " not in cell, (row, cell)
        items = pairs(cell)
        ids = [d for d, _ in items]
        assert all(ids), (row, cell)
        assert len(set(ids)) == len(ids), f"row {row}: repeated id in {cell!r}"
        if len(items) == 1:
            assert items[0][1] is None, f"row {row}: a single-label row keeps the plain id form"
        else:
            assert len(items) <= 3, (row, cell)
            assert all(s in SENTIMENTS for _, s in items), f"row {row}: {cell!r}"


def test_every_label_is_an_active_description(tax, train, test):
    for frame in (train, test):
        ids = {d for cell in frame["description"] for d, _ in pairs(cell)}
        assert ids <= set(tax.active_ids), ids - set(tax.active_ids)


def test_every_active_description_has_20_training_examples(tax, train):
    # A multi-topic row counts for each of its descriptions; single-label rows alone also reach 20.
    every = Counter(d for cell in train["description"] for d, _ in pairs(cell))
    single = Counter(c for c in train["description"] if ";" not in c)
    thin = {d: (every[d], single[d]) for d in tax.active_ids if min(every[d], single[d]) < 20}
    assert not thin, thin


@pytest.mark.parametrize("split", ["train", "test"])
def test_about_one_row_in_ten_is_multi_topic(split, request):
    frame = request.getfixturevalue(split)
    multi = multi_rows(frame)
    assert 0.08 <= len(multi) / len(frame) <= 0.14, len(multi) / len(frame)
    three = multi["description"].str.count(";").eq(2).sum()
    assert 0.05 <= three / len(multi) <= 0.25, three
    assert multi["channel"].nunique() >= 5, "multi-topic rows come through many channels"


def test_multi_topic_rows_mix_sentiments(train, test):
    both = multi_rows(pd.concat([train, test]))
    mixes: dict[frozenset[str], set[tuple[str, str]]] = {}
    for cell in both["description"]:
        items = pairs(cell)
        for a, sa in items:
            for b, sb in items:
                if a < b:
                    mixes.setdefault(frozenset({sa or "", sb or ""}), set()).add((a, b))
    assert len(mixes.get(frozenset({"negative", "positive"}), set())) >= 3, "praise beside a complaint"
    assert len(mixes.get(frozenset({"negative"}), set())) >= 3, "two complaints"
    assert len(mixes.get(frozenset({"negative", "neutral"}), set())) >= 3, "a complaint with an ask"


def test_compliments_are_positive_and_never_the_main_topic_of_a_complaint(train, test):
    for cell in multi_rows(pd.concat([train, test]))["description"]:
        items = pairs(cell)
        assert all(s == "positive" for d, s in items if d in COMPLIMENTS), cell
        if any(s == "negative" for _, s in items):
            assert items[0][0] not in COMPLIMENTS, f"the complaint is the main topic: {cell}"


def test_overall_sentiment_follows_the_documented_rule(train, test):
    """Negative when any description is negative; otherwise the main (first) description's sentiment."""
    for cell, overall in multi_rows(pd.concat([train, test]))[["description", "sentiment"]].itertuples(
        index=False
    ):
        sents = [s for _, s in pairs(cell)]
        assert overall == ("negative" if "negative" in sents else sents[0]), (cell, overall)


def test_multi_topic_rows_span_groups(tax, train, test):
    """Different groups, except the café's food-and-wait pair that customers write together."""
    for cell in multi_rows(pd.concat([train, test]))["description"]:
        groups = {tax.descriptions[d].group for d, _ in pairs(cell)}
        assert len(groups) >= 2 or groups == {"cafe"}, cell


def test_no_train_test_leakage(train, test):
    report = datamod.check(train, "train.csv", against=test)
    assert report.details["overlap"] == 0
    assert report.errors == []


def test_realistic_variety(train):
    text = " ".join(train["text"]).lower()
    assert any(w in text.split() for w in ("pls", "thx", "u", "ur", "2day")), "txt-speak"
    assert train["text"].str.len().max() > 600, "long letters"
    assert (train["sentiment"] == "positive").mean() > 0.05, "compliments"
    multi = multi_rows(train)
    joined = " ".join(multi["text"]).lower()
    assert all(w in joined for w in ("also", "but ")), "topics joined the way people write"


def test_the_generator_rewrites_the_committed_files_byte_for_byte(tmp_path: Path):
    # `python -m tools.sample_data` from the repository root, as data/README.md says; about 2 s.
    root = DATA.parent
    done = subprocess.run(
        [sys.executable, "-m", "tools.sample_data", "--out", str(tmp_path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for name in ("train.csv", "test.csv"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
