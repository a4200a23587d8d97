"""Public data sets with their labels as they come, end to end through the CLI as a user calls it.

Each: `taxonomy init` -> `validate` -> `train` -> `evaluate` -> `suggest` -> `predict` -> `drift` -> the
service's `/v1/suggest` (one real `contactlens serve` process, the others in-process). Subsampled to a few
examples per label, with a fast training config, so the three run in about three minutes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from contactlens import taxonomy as taxmod
from contactlens.cli import app
from contactlens.settings import Settings, get_settings
from tests.conftest import shared_dataset

pytestmark = pytest.mark.slow
KEY = "real-labels-logger"
runner = CliRunner()


def cli(*args: Any) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, f"contactlens {' '.join(map(str, args[:2]))}: {result.output}"
    return result.output


def banking77(root: Path) -> dict[str, Any]:
    """77 intents, one of them `reverted_card_payment?`: 12 training and 4 test examples each."""
    src = shared_dataset("banking77")
    train = pd.read_csv(src / "train.csv", dtype=str, keep_default_na=False).groupby("category").head(12)
    test = pd.read_csv(src / "test.csv", dtype=str, keep_default_na=False).groupby("category").head(4)
    return {"train": train, "test": test, "label_col": "category", "multi": False, "floor": 0.6}


def airline(root: Path) -> dict[str, Any]:
    """Complaint reasons with spaces and apostrophes ("Can't Tell"): 20 training and 12 test tweets each."""
    src = shared_dataset("airline_tweets")
    tweets = pd.read_csv(src / "tweets.csv", dtype=str, keep_default_na=False).drop_duplicates("tweet_id")
    tweets = tweets[tweets["reason"] != ""]
    by_reason = tweets.groupby("reason")
    train, test = by_reason.head(20), by_reason.nth(list(range(20, 32)))
    return {"train": train, "test": test, "label_col": "reason", "multi": False, "floor": 0.3}


def nlupp_hotels(root: Path) -> dict[str, Any]:
    """Multi-label intents (`booking;change`) in a column called `labels`: folds 0-11 train, 12-19 test."""
    src = shared_dataset("nlupp_hotels")
    rows = pd.read_csv(src / "hotels.csv", dtype=str, keep_default_na=False)
    rows = rows[rows["labels"] != ""]  # slot-only utterances carry no intent
    fold = rows["fold"].astype(int)
    return {
        "train": rows[fold < 12],
        "test": rows[fold >= 12],
        "label_col": "labels",
        "multi": True,
        "floor": 0.3,
    }


@pytest.fixture(scope="module")
def fast_yaml(tmp_path_factory: pytest.TempPathFactory, fast_config) -> Path:
    path = tmp_path_factory.mktemp("config") / "fast.yaml"
    path.write_text(yaml.safe_dump(fast_config.model_dump(mode="json")))
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh registry, store and API key for one data set."""
    monkeypatch.setenv("CONTACTLENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CONTACTLENS_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("CONTACTLENS_API_KEYS", f"{KEY}:logger")
    for name in ("MODEL_URI", "MLFLOW_TRACKING_URI", "REVIEW_THRESHOLD", "RELOAD_POLL_SECONDS"):
        monkeypatch.delenv(f"CONTACTLENS_{name}", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def suggest_over_http(root: Path, text: str) -> dict[str, Any]:
    """Start `contactlens serve` on a free loopback port, ask for one suggestion, stop it."""
    port = free_port()
    log = (root / "serve.log").open("w")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "contactlens"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert server.poll() is None, (root / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        r = httpx.post(f"{url}/v1/suggest", json={"text": text}, headers={"X-API-Key": KEY}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def suggest_in_process(text: str) -> dict[str, Any]:
    from service.app import create_app

    with TestClient(create_app(Settings())) as client:
        r = client.post("/v1/suggest", json={"text": text}, headers={"X-API-Key": KEY})
        assert r.status_code == 200, r.text
        return r.json()


@pytest.mark.parametrize(
    ("make", "over_http"),
    [(banking77, False), (airline, True), (nlupp_hotels, False)],
    ids=["banking77", "airline-reasons", "nlupp-hotels"],
)
def test_a_public_label_set_works_end_to_end(
    make: Callable[[Path], dict[str, Any]], over_http: bool, home: Path, fast_yaml: Path, encoder_dir: Path
):
    ds = make(home)
    train, test, col = home / "train.csv", home / "test.csv", ds["label_col"]
    ds["train"].to_csv(train, index=False)
    ds["test"].to_csv(test, index=False)
    raw_labels = {lab for cell in ds["train"][col] for lab in (cell.split(";") if ds["multi"] else [cell])}

    tax_path = home / "taxonomy.yaml"
    cli("taxonomy", "init", "--from-data", train, "--label-col", col, "--out", tax_path)
    assert cli("taxonomy", "validate", tax_path).startswith("ok:")
    tax = taxmod.load(tax_path)
    assert {d.raw_label for d in tax.descriptions.values()} == raw_labels
    assert all(taxmod.is_id(i) for i in tax.descriptions)

    trained = cli(
        "train", "--data", train, "--label-col", col, "--taxonomy", tax_path,
        "--config", fast_yaml, "--encoder", encoder_dir,
    )  # fmt: skip
    assert "as champion" in trained
    cli("evaluate", "--data", test, "--label-col", col, "--json", home / "eval.json")
    report = json.loads((home / "eval.json").read_text())
    assert set(report["per_description"]) <= set(tax.descriptions)  # ids, never raw labels
    assert report["accuracy"] > ds["floor"], report["accuracy"]  # chance: 1/77, 1/10, 1/40

    text = ds["test"]["text"].iloc[0]
    suggested = json.loads(cli("suggest", text, "--json"))
    for s in suggested["suggestions"]:
        assert s["id"] in tax.descriptions and s["name"] == tax.descriptions[s["id"]].raw_label

    cli("predict", "--data", test, "--out", home / "scored.csv")
    scored = pd.read_csv(home / "scored.csv", dtype=str, keep_default_na=False)
    assert set(scored["top1_label"]) <= raw_labels
    if not ds["multi"]:  # a user's own evaluation against their raw labels gives evaluate's accuracy
        assert (scored["top1_label"] == scored[col]).mean() == pytest.approx(report["accuracy"], abs=1e-9)
    else:
        decided = [set(json.loads(cell)) for cell in scored["descriptions_pred_labels"]]
        assert all(d and d <= raw_labels for d in decided)

    cli("drift", "--data", test, "--json", home / "drift.json")
    drift = json.loads((home / "drift.json").read_text())
    assert drift["window"]["n_contacts"] >= 100 and isinstance(drift["revisit_taxonomy"], bool)

    answer = suggest_over_http(home, text) if over_http else suggest_in_process(text)
    assert answer["suggestions"][0]["id"] in tax.descriptions
    assert answer["suggestions"][0]["name"] == suggested["suggestions"][0]["name"]
