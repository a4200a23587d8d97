"""The review page in a real browser: Debian's Chromium, headless, driven by Playwright, against uvicorn.

Contacts are logged through the API (each with a description other than the top suggestion, so each is
queued), a reviewer signs in and works through the queue with the keyboard only, and the labels are then read
back from the database. Skipped where /usr/bin/chromium is absent, except in CI (`CI` set), where that fails.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox (containers, root), and nothing that reaches out to the network on its own.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
KEYS = {"logger": "e2e-logger-key", "reviewer": "e2e-reviewer-key", "analyst": "e2e-analyst-key"}
TEXTS = [
    "My sofa was promised for Tuesday and it's Friday now, tracking just says in transit",
    "The mirror arrived smashed and the box was soaking wet",
    "Charged twice for the same order on my card, please refund one",
    "The app logs me out every time I open the basket",
    "Nobody came in my 7-11 delivery slot, I took the day off work",
    "Waited twenty minutes at the tills with only one open",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} in CI (.ci/run installs chromium with apt)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian (never Playwright's own download)."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is absent: install Debian's chromium to run the browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def server(browser: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """uvicorn on 127.0.0.1 (a free port bound up front), on a fresh SQLite file, serving the sample model."""
    import uvicorn

    # Asked for here, after `browser`, so a run without Chromium skips before training the sample model.
    sample_model = request.getfixturevalue("sample_model")
    sample_model_dir: Path = request.getfixturevalue("sample_model_dir")

    from contactlens.settings import Settings
    from service.app import create_app

    db = tmp_path / "review.db"
    settings = Settings(
        home=tmp_path,
        database_url=f"sqlite:///{db}",
        api_keys=",".join(f"{key}:{role}" for role, key in KEYS.items()),
        model_uri=str(sample_model_dir),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings, sample_model), log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield {"url": f"http://127.0.0.1:{port}", "db": db}
    finally:
        uv.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    tab.screenshot(path=tmp_path / "final.png", full_page=True)
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def log_queued_contacts(base: str) -> list[dict[str, Any]]:
    """Log TEXTS through the API, each with a description other than the top suggestion; the queue after."""
    logger = {"X-API-Key": KEYS["logger"]}
    with httpx.Client(base_url=base, timeout=30) as api:
        for text in TEXTS:
            answer = api.post("/v1/suggest", json={"text": text}, headers=logger).json()
            other = answer["suggestions"][1]["id"]  # not the top one: a disagreement, so it is queued
            body = {"text": text, "channel": "web", "description": other}
            body["suggestion_id"] = answer["suggestion_id"]
            assert api.post("/v1/contacts", json=body, headers=logger).status_code == 201
        queue = api.get("/v1/review?status=pending", headers={"X-API-Key": KEYS["reviewer"]}).json()["items"]
    assert len(queue) == len(TEXTS)
    return queue


def sign_in(page: Any, base: str, key: str) -> None:
    page.goto(f"{base}/ui/login")
    page.fill("#key", key)
    page.keyboard.press("Enter")


def saved(page: Any, item: int) -> None:
    """Wait until the status line says the item was saved."""
    page.wait_for_function(
        "id => document.getElementById('status').textContent.startsWith(`Saved item ${id} `)", arg=item
    )


def current(page: Any) -> int:
    return int(page.locator("li.item.current").get_attribute("data-item"))


def stored_decisions(db: Path) -> dict[int, tuple[str, str, str | None]]:
    import sqlalchemy as sa

    from contactlens.store import ReviewDecision

    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                ReviewDecision.review_item_id,
                ReviewDecision.description_id,
                ReviewDecision.reviewer,
                ReviewDecision.note,
            )
        ).all()
    engine.dispose()
    return {item: (description, reviewer, note) for item, description, reviewer, note in rows}


def test_review_with_the_keyboard_and_by_search(server: dict[str, Any], page: Any, tmp_path: Path) -> None:
    base = server["url"]
    queue = log_queued_contacts(base)
    ids = [i["id"] for i in queue]
    ranked = {i["id"]: [s["id"] for s in i["suggestions"]] for i in queue}
    sign_in(page, base, KEYS["reviewer"])
    page.wait_for_url(f"{base}/ui/queue")
    assert page.locator("li.item").count() == len(TEXTS) and current(page) == ids[0]
    page.screenshot(path=tmp_path / "queue.png")

    page.keyboard.press("n")  # a note on the first item, then back to the item and accept suggestion 1
    page.keyboard.type("checked the tracking")
    page.keyboard.press("Escape")
    page.keyboard.press("1")
    saved(page, ids[0])
    assert current(page) == ids[1]
    page.keyboard.press("j")  # skip to the third item and accept its third suggestion
    assert current(page) == ids[2]
    page.keyboard.press("3")
    saved(page, ids[2])
    page.keyboard.press("k")  # back to the second one (the fourth is current after the third went)
    assert current(page) == ids[1]
    page.keyboard.press("2")
    saved(page, ids[1])

    assert current(page) == ids[3]
    page.keyboard.press("/")  # search the taxonomy, move with the arrows, pick with Enter
    assert page.evaluate("document.activeElement.id") == "tax-search"
    page.keyboard.type("goods damaged on arrival")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    assert page.locator("#tax-results [aria-selected=true]").get_attribute("data-id") == "damaged_on_arrival"
    page.keyboard.press("Enter")
    saved(page, ids[3])

    assert page.locator("#pending-count").inner_text() == "2"
    assert page.locator("#mine-count").inner_text() == "4"
    left = page.locator("li.item").evaluate_all("els => els.map(e => Number(e.dataset.item))")
    assert left == ids[4:]
    page.screenshot(path=tmp_path / "after-review.png")
    assert stored_decisions(server["db"]) == {
        ids[0]: (ranked[ids[0]][0], "bootstrap-reviewer", "checked the tracking"),
        ids[2]: (ranked[ids[2]][2], "bootstrap-reviewer", None),
        ids[1]: (ranked[ids[1]][1], "bootstrap-reviewer", None),
        ids[3]: ("damaged_on_arrival", "bootstrap-reviewer", None),
    }


def test_someone_else_decided_first(server: dict[str, Any], page: Any, tmp_path: Path) -> None:
    base = server["url"]
    first = log_queued_contacts(base)[0]["id"]
    sign_in(page, base, KEYS["reviewer"])
    page.wait_for_url(f"{base}/ui/queue")
    analyst = {"X-API-Key": KEYS["analyst"]}
    r = httpx.post(f"{base}/v1/review/{first}", json={"description": "lost_in_transit"}, headers=analyst)
    assert r.status_code == 200
    page.keyboard.press("1")
    conflict = page.locator(f"#item-{first} .conflict [role=alert]")
    conflict.wait_for()
    assert f"Item {first} was already decided by bootstrap-analyst at 20" in conflict.inner_text()
    page.screenshot(path=tmp_path / "conflict.png")
    assert page.evaluate("document.activeElement.textContent").endswith("as well (override)")
    page.keyboard.press("Enter")  # keep both
    saved(page, first)
    trail = httpx.get(f"{base}/v1/review/{first}", headers=analyst).json()["decisions"]
    assert [(d["reviewer"], d["override"]) for d in trail] == [
        ("bootstrap-analyst", False),
        ("bootstrap-reviewer", True),
    ]


def test_wrong_key_shows_the_error(server: dict[str, Any], page: Any, tmp_path: Path) -> None:
    base = server["url"]
    sign_in(page, base, "not-a-valid-key")
    error = page.locator("#login-error")
    error.wait_for()
    assert "That key is not valid, or it has been revoked" in error.inner_text()
    assert page.url == f"{base}/ui/login" and page.locator("#key").get_attribute("aria-invalid") == "true"
    page.screenshot(path=tmp_path / "wrong-key.png")
    sign_in(page, base, KEYS["logger"])
    assert "has the logger role" in page.locator("#login-error").inner_text()


def test_two_descriptions_with_the_keyboard(server: dict[str, Any], page: Any, tmp_path: Path) -> None:
    """Shift+2 adds suggestion 2 as a secondary description (again removes it), a searches the taxonomy for
    one to add, s goes to the sentiments, 1 saves the top suggestion as the primary with the secondary."""
    base = server["url"]
    queue = log_queued_contacts(base)
    first = queue[0]["id"]
    ranked = [s["id"] for s in queue[0]["suggestions"]]
    secondary = next(d for d in ("damaged_on_arrival", "till_queues") if d != ranked[0])
    sign_in(page, base, KEYS["reviewer"])
    page.wait_for_url(f"{base}/ui/queue")
    assert current(page) == first
    chips = page.locator(f"#item-{first} li.also-item")

    page.keyboard.press("Shift+Digit2")
    assert chips.evaluate_all("els => els.map(e => e.dataset.id)") == [ranked[1]]
    page.keyboard.press("Shift+Digit2")  # the same key takes it off again
    assert chips.count() == 0

    page.keyboard.press("a")
    assert page.evaluate("document.activeElement.id") == "tax-search"
    assert page.locator("#search-mode").inner_text().startswith("Add a secondary description")
    page.keyboard.type("goods damaged on arrival" if secondary == "damaged_on_arrival" else "till queues")
    assert page.locator("#tax-results [aria-selected=true]").get_attribute("data-id") == secondary
    page.keyboard.press("Enter")
    assert chips.evaluate_all("els => els.map(e => e.dataset.id)") == [secondary]
    assert current(page) == first and page.locator("#status").inner_text().startswith(f"Item {first} is also")

    page.keyboard.press("s")  # the primary's sentiment, then Tab to the secondary's
    assert page.evaluate("document.activeElement.id") == f"sentiment-{first}"
    page.select_option(f"#sentiment-{first}", "positive")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "also-sentiment"
    page.select_option(f"#item-{first} select.also-sentiment", "negative")
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.dataset.item") == str(first)
    page.screenshot(path=tmp_path / "two-chosen.png")
    page.keyboard.press("1")
    saved(page, first)
    assert " with " in page.locator("#status").inner_text()
    page.screenshot(path=tmp_path / "two-descriptions.png")

    reviewer = {"X-API-Key": KEYS["reviewer"]}
    item = httpx.get(f"{base}/v1/review/{first}", headers=reviewer).json()
    [decision] = item["decisions"]
    assert decision["descriptions"] == [
        {"id": ranked[0], "sentiment": "positive"},
        {"id": secondary, "sentiment": "negative"},
    ]
    assert item["contact"]["current_descriptions"] == decision["descriptions"]
    assert stored_decisions(server["db"]) == {first: (ranked[0], "bootstrap-reviewer", None)}

    # m accepts the model's decision as it stands (where the served model makes one).
    second = queue[1]
    assert current(page) == second["id"]
    decided = [{"id": d["id"], "sentiment": d["sentiment"]} for d in second["model_descriptions"]]
    if decided:
        page.keyboard.press("m")
        saved(page, second["id"])
        [decision] = httpx.get(f"{base}/v1/review/{second['id']}", headers=reviewer).json()["decisions"]
        assert decision["descriptions"] == decided
