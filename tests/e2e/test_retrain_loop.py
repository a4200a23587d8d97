"""The retraining loop end to end: train, serve, log and review contacts, retrain, promote, serve the new one.

The champion is trained on part of the sample data in which one description is rare (3 examples). Contacts of
that description are logged through the service, reviewed (through the API, and by export/import), then
`contactlens retrain` trains a challenger, the gate promotes it, and the running service picks it up by
polling the registry alias, answering with the new version and better accuracy on that description.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from contactlens.cli import app
from contactlens.registry import client
from contactlens.settings import Settings, get_settings
from contactlens.store import ReviewDecision, ReviewItem, make_engine, session_factory, upgrade
from tests.conftest import DATA

pytestmark = pytest.mark.slow

RARE = "refund_not_received"
KEYS = {"logger": "e2e-logger-key", "reviewer": "e2e-reviewer-key", "analyst": "e2e-analyst-key"}
HEADERS = {role: {"X-API-Key": key} for role, key in KEYS.items()}
runner = CliRunner()


def cli(*args: Any) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def error_line(result: Any) -> str:
    assert result.exit_code == 2, result.output
    lines = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, encoder_dir: Path, fast_config
) -> Iterator[dict[str, Any]]:
    """A champion trained on 15 examples per description but only 3 of RARE, registered in a fresh store."""
    root = tmp_path_factory.mktemp("loop")
    mp = pytest.MonkeyPatch()
    mp.setenv("CONTACTLENS_HOME", str(root / "home"))
    mp.setenv("CONTACTLENS_DATABASE_URL", f"sqlite:///{root / 'store.db'}")
    mp.setenv("CONTACTLENS_API_KEYS", ",".join(f"{k}:{r}" for r, k in KEYS.items()))
    for name in ("MODEL_URI", "MLFLOW_TRACKING_URI", "REVIEW_THRESHOLD", "RELOAD_POLL_SECONDS"):
        mp.delenv(f"CONTACTLENS_{name}", raising=False)
    get_settings.cache_clear()
    # Single-description rows only: a multi-topic row would teach the rare description beside its main one.
    train = pd.read_csv(DATA / "train.csv", dtype=str, keep_default_na=False)
    train = train[~train["description"].str.contains(";")]
    test = pd.read_csv(DATA / "test.csv", dtype=str, keep_default_na=False)
    test = test[~test["description"].str.contains(";")]
    rare = train[train["description"] == RARE]
    base = pd.concat([g.head(3 if d == RARE else 15) for d, g in train.groupby("description")])
    base.to_csv(root / "base.csv", index=False)
    golden = test[test["description"] != RARE].sample(60, random_state=1)
    golden.to_csv(root / "golden.csv", index=False)
    test.drop(golden.index).to_csv(root / "eval.csv", index=False)
    # The fp32 encoder this scenario was written with: its champion is tiny (15 contacts a description), where
    # one contact moves a description's held-out F1 by about 0.1, the gate's bound; with the int8 default a
    # support-10 description lost 0.111 and the promotion this test follows did not happen. Retraining keeps
    # the champion's config and encoder, so both models are fp32.
    config = fast_config.model_dump(mode="json") | {"encoder_precision": "fp32"}
    (root / "fast.yaml").write_text(yaml.safe_dump(config))
    result = cli(
        "train", "--data", root / "base.csv", "--taxonomy", DATA / "taxonomy.yaml",
        "--config", root / "fast.yaml", "--encoder", encoder_dir,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    yield {
        "root": root,
        "to_log": rare["text"].iloc[3:48].tolist(),  # contacts logged and reviewed: never in base data
        "probe": rare["text"].iloc[48:].tolist(),  # judged through the service: never trained on
        "retrain": ["retrain", "--base-data", root / "base.csv", "--taxonomy", DATA / "taxonomy.yaml"]
        + ["--eval-data", root / "eval.csv", "--golden", root / "golden.csv"],
    }
    mp.undo()
    get_settings.cache_clear()


def registry() -> tuple[str | None, list[str]]:
    """The champion's version and every registered version."""
    settings = get_settings()
    mc = client(settings)
    versions = sorted(v.version for v in mc.search_model_versions(f"name='{settings.registered_model_name}'"))
    return str(mc.get_model_version_by_alias(settings.registered_model_name, "champion").version), versions


# ------------------------------------------------------------------------------------------------ bad input


@pytest.fixture
def own_store(world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A review store of this test's own, with one reviewed contact per (text, label) the test adds."""
    url = f"sqlite:///{tmp_path / 'own.db'}"
    monkeypatch.setenv("CONTACTLENS_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def review(engine: Any, rows: list[tuple[str, str]]) -> None:
    from contactlens.store import Contact

    with session_factory(engine)() as s, s.begin():
        for text, label in rows:
            c = Contact(
                text=text,
                text_redacted=True,
                channel="email",
                received_at=pd.Timestamp("2026-01-05").to_pydatetime(),
                logged_by="logger",
                description_id="late_delivery",
                current_description_id="late_delivery",
                current_group_id="delivery",
            )
            c.review = ReviewItem(reason="disagreement", status="decided")
            s.add(c)
            s.flush()
            s.add(ReviewDecision(review_item_id=c.review.id, reviewer="rev", description_id=label))


def test_an_empty_set_of_new_labels_changes_nothing(world, own_store):
    before = registry()
    review(own_store, [("My refund never came", RARE)])
    result = cli(*world["retrain"], "--since", "2999-01-01")
    assert result.exit_code == 0, result.output  # nothing to do is not an error
    assert "no new reviewed labels decided since 2999-01-01 00:00: nothing to retrain on" in result.output
    assert "nothing registered" in result.output
    assert registry() == before


def test_reviewed_labels_of_retired_descriptions_without_migration_change_nothing(world, own_store, tmp_path):
    raw = yaml.safe_load((DATA / "taxonomy.yaml").read_text())
    raw["migrations"] = [m for m in raw["migrations"] if m["from"] != "promotion_query"]
    (tmp_path / "tax.yaml").write_text(yaml.safe_dump(raw))
    before = registry()
    review(own_store, [("Does the offer include sale items?", "promotion_query"), ("Refund late", RARE)])
    args = [a if a != DATA / "taxonomy.yaml" else tmp_path / "tax.yaml" for a in world["retrain"]]
    line = error_line(cli(*args))
    assert "retired descriptions with no migration in taxonomy 2026.1: promotion_query (contacts 1)" in line
    assert registry() == before


def test_an_unreachable_registry_changes_nothing(world, own_store, monkeypatch):
    before = registry()
    review(own_store, [("My refund never came", RARE)])
    monkeypatch.setenv("CONTACTLENS_MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    get_settings.cache_clear()
    started = time.perf_counter()
    line = error_line(cli(*world["retrain"]))
    assert "registry http://127.0.0.1:9 is unreachable" in line
    assert time.perf_counter() - started < 30, "fail fast rather than retry for minutes"
    assert "unreachable" in error_line(cli("rollback", "--reason", "x"))
    monkeypatch.delenv("CONTACTLENS_MLFLOW_TRACKING_URI")
    get_settings.cache_clear()
    assert registry() == before


def test_overrides_refuse_what_cannot_be_done(world):
    assert "no contactlens version 99" in error_line(cli("promote", "99", "--reason", "typo"))
    champion, _ = registry()
    assert "is the champion already" in error_line(cli("promote", champion, "--reason", "again"))


# ------------------------------------------------------------------------------------------------ the loop


def wait_for_version(client_: TestClient, version: str, timeout: float = 90) -> None:
    """Until the service (polling the registry alias) serves `version`."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = client_.get("/readyz").json().get("model_version")
        if seen == version:
            return
        time.sleep(0.5)
    raise AssertionError(f"the service still serves {seen}, not {version}")


def rare_accuracy(client_: TestClient, texts: list[str]) -> tuple[float, set[str]]:
    r = client_.post("/v1/suggest/batch", json={"texts": texts, "top_k": 1}, headers=HEADERS["logger"])
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    hits = [x["suggestions"][0]["id"] == RARE for x in results]
    return sum(hits) / len(hits), {x["model_version"] for x in results}


def log_and_queue(client_: TestClient, texts: list[str]) -> list[int]:
    """Log each text as RARE after asking for a suggestion; returns the pending review item ids."""
    for text in texts:
        s = client_.post("/v1/suggest", json={"text": text}, headers=HEADERS["logger"]).json()
        body = {"text": text, "channel": "email", "description": RARE, "suggestion_id": s["suggestion_id"]}
        assert client_.post("/v1/contacts", json=body, headers=HEADERS["logger"]).status_code == 201
    page = client_.get("/v1/review", params={"status": "pending", "limit": 200}, headers=HEADERS["reviewer"])
    return [item["id"] for item in page.json()["items"]]


def review_half_by_api_half_by_file(client_: TestClient, items: list[int], tmp_path: Path) -> None:
    half = len(items) // 2
    for item_id in items[:half]:
        r = client_.post(f"/v1/review/{item_id}", json={"description": RARE}, headers=HEADERS["reviewer"])
        assert r.status_code == 200, r.text
    exported = tmp_path / "pending.csv"
    result = cli("export", "--format", "csv", "--out", exported)
    assert result.exit_code == 0 and f"exported {len(items) - half} pending items" in result.output, (
        result.output
    )
    labels = pd.read_csv(exported, dtype=str, keep_default_na=False)
    labels["description"] = RARE  # the annotator confirms what the person logging it said
    labels.to_csv(exported, index=False)
    result = cli("import", exported, "--reviewer", "annotator")
    assert result.exit_code == 0 and f"imported {len(items) - half} labels" in result.output, result.output


def test_reviewed_contacts_retrain_promote_and_reach_the_running_service(world, tmp_path: Path):
    settings = Settings(reload_poll_seconds=0.5)  # the env of `world`, polling the champion alias
    from service.app import create_app

    with TestClient(create_app(settings)) as service:
        before, versions = rare_accuracy(service, world["probe"])
        assert versions == {"contactlens/1"}
        items = log_and_queue(service, world["to_log"])
        assert len(items) >= 15, "a rare description is mostly doubted or missed, so it is queued"
        review_half_by_api_half_by_file(service, items, tmp_path)

        result = cli(*world["retrain"])
        assert result.exit_code == 0, result.output
        assert f"reviewed labels: {len(items)} contacts" in result.output
        assert "promoted: version 2 is the champion (previous: version 1)" in result.output
        printed = [line for line in result.output.splitlines() if line.strip()]
        assert len(printed) == len(set(printed)), "every line prints once"
        assert "Downloading artifacts" not in result.output and "\x1b[" not in result.output
        with pytest.raises(Exception, match="challenger"):  # promoted: no longer a challenger
            client(get_settings()).get_model_version_by_alias("contactlens", "challenger")
        wait_for_version(service, "contactlens/2")
        after, versions = rare_accuracy(service, world["probe"])
        assert versions == {"contactlens/2"}
        assert after >= before + 0.2, (before, after)

        rolled = cli("rollback", "--reason", "complaints from the refunds team", "--by", "dana")
        assert (
            rolled.exit_code == 0
            and "rollback: contactlens version 1 is the champion (was 2); by dana" in (rolled.output)
        )
        wait_for_version(service, "contactlens/1")
        again = cli("promote", "2", "--reason", "refunds team satisfied", "--by", "dana")
        assert (
            again.exit_code == 0 and "promote: contactlens version 2 is the champion (was 1)" in again.output
        )
        assert len(rolled.output.strip().splitlines()) == len(again.output.strip().splitlines()) == 1
        wait_for_version(service, "contactlens/2")

    _, versions_before = registry()
    same = cli(*world["retrain"])  # the same reviewed labels again: the champion learnt from them already
    assert same.exit_code == 0, same.output
    assert "no new reviewed labels since the champion (version 2) was trained on these" in same.output
    assert registry() == ("2", versions_before)

    mc = client(get_settings())
    version = mc.get_model_version("contactlens", "2")
    assert version.tags["promotion.decision"] == "promoted"
    assert (version.tags["override.action"], version.tags["override.by"]) == ("promote", "dana")
    assert version.tags["override.reason"] == "refunds team satisfied"
    assert str(mc.get_model_version_by_alias("contactlens", "previous").version) == "1"
    from training.retrain import latest_record

    record = latest_record(get_settings())
    assert record["decision"] == "promoted" and record["passed"]
    assert record["data"]["feedback"] == len(items) and record["data"]["feedback_heldout"] > 0
    held = record["metrics"]["heldout"]
    assert held["challenger"]["accuracy"] > held["champion"]["accuracy"]
    f1 = {who: held[who]["per_description"][RARE]["f1"] for who in ("champion", "challenger")}
    assert f1["challenger"] > f1["champion"], f1
    assert mc.get_run(record["challenger_run_id"]).data.tags["promotion.decision"] == "promoted"
