"""Data tests on the sample in data/: schema, labels, coverage, leakage."""

import pandas as pd
import pytest

from contactlens import data as datamod
from contactlens import taxonomy as taxmod
from tests.conftest import DATA

COLUMNS = ["text", "description", "sentiment", "channel", "site", "received_at"]


@pytest.fixture(scope="module")
def tax():
    return taxmod.load(DATA / "taxonomy.yaml")


@pytest.fixture(scope="module")
def train():
    return datamod.load(DATA / "train.csv")


@pytest.fixture(scope="module")
def test():
    return datamod.load(DATA / "test.csv")


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
    assert set(frame["sentiment"]) == set(datamod.SENTIMENTS)
    assert set(frame["channel"]) <= set(datamod.CHANNELS)
    dates = pd.to_datetime(frame["received_at"], format="ISO8601")
    assert dates.notna().all()


def test_size_and_spread(train, test):
    both = pd.concat([train, test])
    assert len(both) >= 1500
    assert set(both["channel"]) == set(datamod.CHANNELS)
    dates = pd.to_datetime(both["received_at"], format="ISO8601")
    assert (dates.max() - dates.min()).days >= 365
    assert both["site"].nunique() >= 5


def test_every_label_is_an_active_description(tax, train, test):
    for frame in (train, test):
        assert set(frame["description"]) <= set(tax.active_ids)


def test_every_active_description_has_20_training_examples(tax, train):
    counts = train["description"].value_counts()
    thin = {d: int(counts.get(d, 0)) for d in tax.active_ids if counts.get(d, 0) < 20}
    assert not thin, thin


def test_no_train_test_leakage(train, test):
    report = datamod.check(train, "train.csv", against=test)
    assert report.details["overlap"] == 0
    assert report.errors == []


def test_realistic_variety(train):
    text = " ".join(train["text"]).lower()
    assert any(w in text.split() for w in ("pls", "thx", "u", "ur", "2day")), "txt-speak"
    assert train["text"].str.len().max() > 600, "long letters"
    assert (train["sentiment"] == "positive").mean() > 0.05, "compliments"
