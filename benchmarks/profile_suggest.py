"""Where one suggest's time goes (not a test): each stage of the suggest path timed on its own.

    python benchmarks/profile_suggest.py [--model DIR_OR_URI] [--calls 300] [--batch 1 8 32]

Stages, per item, at each batch size: clean, tokenise, encoder (ONNX Runtime run + pooling), TF-IDF (the
typing path's, and scikit-learn's own transform beside it), heads
(description, sentiment, multi-label), the answer (decision, top-k, taxonomy look-ups), and the whole
`ContactModel.suggest` (the stages plus whatever glue is not listed). Then, at batch 1: the clause sentiments
of a contact about two things, one suggestion-log INSERT into SQLite, the response's validation and JSON, and
the framework (an in-process ASGI call to `/healthz`, and `/v1/suggest` end to end). Medians of `--calls`
rounds, stages interleaved round by round so that other load on the machine hits them alike.
Last, `suggest` with this branch's scoring shortcuts against scikit-learn's own calls, call by call in the one
process (`shortcuts_ab_ms`: the ratio holds whatever the load). Results go to
benchmarks/results/profile_suggest.json with the machine and its load average.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before benchmarks/: its service.py would shadow the service package
RESULTS = ROOT / "benchmarks" / "results" / "profile_suggest.json"
SENTENCE = "My parcel was due on Tuesday and it still has not arrived, tracking says in transit."
TWO_TOPICS = (
    "Sarah on the tills was so kind and patient with my mum, please thank her. "
    "But I returned a kettle three weeks ago and the refund still hasn't reached my card."
)
KEY = "profile-key"


def _ms(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def interleaved(stages: dict[str, Callable[[], Any]], rounds: int, per_item: int = 1) -> dict[str, float]:
    """Median milliseconds per item of each stage, the stages taking turns in every round."""
    for fn in stages.values():  # warm-up
        for _ in range(3):
            fn()
    times: dict[str, list[float]] = {name: [] for name in stages}
    for _ in range(rounds):
        for name, fn in stages.items():
            times[name].append(_ms(fn) / per_item)
    return {name: round(statistics.median(t), 3) for name, t in times.items()}


def model_stages(model: Any, texts: list[str]) -> dict[str, Callable[[], Any]]:
    from contactlens.text import clean
    from contactlens.tfidf import sparse_features

    enc = model.encoder
    cleaned = [clean(t) for t in texts]
    encodings = enc._tokenizer.encode_batch(cleaned, add_special_tokens=True)
    emb = enc.encode(cleaned)
    feats = model.features(cleaned, emb)
    scores = model.score(texts)

    def heads() -> None:
        model.description_head.proba(feats)
        if model.sentiment_head:
            model.sentiment_head.proba(feats)
        if model.multilabel_head:
            model.multilabel_head.proba(feats)

    def answer() -> None:  # what suggest does after scoring, for texts about one thing
        decided = model.decisions(scores)
        for i in range(len(texts)):
            order = scores.proba[i].argsort()[::-1][:3]
            [model.describe(model.classes[j], scores.proba[i, j]) for j in order]
            [model.describe(d, c) for d, c in decided[i]]

    return {
        "clean": lambda: [clean(t) for t in texts],
        "tokenise": lambda: enc._tokenizer.encode_batch(cleaned, add_special_tokens=True),
        "encoder": lambda: enc._embed_batch(encodings),
        "tfidf": lambda: sparse_features(model.vectorizer, cleaned),  # what suggest calls
        "tfidf_sklearn": lambda: model.vectorizer.transform(cleaned),
        "heads": heads,
        "answer": answer,
        "suggest_total": lambda: model.suggest(texts),
    }


def clause_stage(model: Any) -> dict[str, Callable[[], Any]]:
    from contactlens.text import clean, split_clauses

    cleaned = [clean(TWO_TOPICS)]
    scores = model.score([TWO_TOPICS], alone=True)  # as suggest scores it: the token states kept
    ids = [[d for d, _ in row] for row in model.decisions(scores)]
    return {
        "split_clauses": lambda: split_clauses(cleaned[0]),
        "clause_sentiments": lambda: model.description_sentiments(
            cleaned, ids, scores.sentiment, scores.states
        ),
        "two_topics_total": lambda: model.suggest([TWO_TOPICS]),
    }


def shortcuts_ab(model: Any, rounds: int) -> dict[str, float]:
    """`suggest` with the scoring shortcuts (`member_proba`, `sparse_features`) against scikit-learn's own
    calls, call by call in one process: the ratio is what the shortcuts save whatever the machine's load."""
    import contactlens.model as cm

    fast = (cm.member_proba, cm.sparse_features)
    slow = (lambda est, x: est.predict_proba(x), lambda v, cleaned: v.transform(cleaned))

    def use(pair: tuple[Any, Any]) -> Callable[[], None]:
        def switch() -> None:
            cm.member_proba, cm.sparse_features = pair

        return switch

    times: dict[str, list[float]] = {"new_one": [], "old_one": [], "new_two": [], "old_two": []}
    try:
        for r in range(rounds + 3):
            for name, pair in (("new", fast), ("old", slow)) if r % 2 else (("old", slow), ("new", fast)):
                use(pair)()
                for text, key in ((SENTENCE, "one"), (TWO_TOPICS, "two")):
                    spent = _ms(functools.partial(model.suggest, [text]))
                    if r >= 3:  # the first rounds warm up
                        times[f"{name}_{key}"].append(spent)
    finally:
        use(fast)()
    out = {k: round(statistics.median(v), 3) for k, v in times.items()}
    out["ratio_one"] = round(out["new_one"] / out["old_one"], 3)
    out["ratio_two"] = round(out["new_two"] / out["old_two"], 3)
    return out


def service_stages(model: Any, workdir: Path) -> tuple[dict[str, Callable[[], Any]], Callable[[], None]]:
    """The database insert, the response's JSON, and the framework, all in this process."""
    import httpx

    from contactlens.settings import Settings
    from service.app import create_app

    settings = Settings(
        home=workdir, database_url=f"sqlite:///{workdir / 'profile.db'}", api_keys=f"{KEY}:logger"
    )
    app = create_app(settings, model=model)
    loop = asyncio.new_event_loop()
    lifespan = app.router.lifespan_context(app)
    loop.run_until_complete(lifespan.__aenter__())
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://profile")
    headers = {"X-API-Key": KEY}

    from sqlalchemy import insert

    from contactlens.store import Suggestion
    from service.api import suggest as route

    threshold = model.review_threshold
    answer = route.answer_batch(app, [route.Pending(model, threshold, SENTENCE, 3, None)])[0]
    suggest_once = model.suggest([SENTENCE])[0]

    def insert_only() -> None:  # what the typing path paid before the write-behind log
        with app.state.sessions.begin() as session:
            session.execute(insert(Suggestion), [route._row(model, suggest_once, None)])

    def json_response() -> None:
        answer.model_dump_json()

    def healthz() -> None:
        loop.run_until_complete(client.get("/healthz"))

    def http_suggest() -> None:
        r = loop.run_until_complete(client.post("/v1/suggest", json={"text": SENTENCE}, headers=headers))
        assert r.status_code == 200, r.text

    def close() -> None:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(lifespan.__aexit__(None, None, None))
        loop.close()

    return {
        "db_insert": insert_only,
        "json": json_response,
        "asgi_healthz": healthz,
        "asgi_suggest": http_suggest,
    }, close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="Artifact directory or models:/NAME@ALIAS (default: the settings').")
    parser.add_argument("--calls", type=int, default=300, help="Rounds per batch size.")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from contactlens.model import limit_blas_threads
    from contactlens.registry import load_model

    limit_blas_threads(1)  # as the service does at start-up (`blas_threads`)
    model = load_model(args.model)
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "model_version": model.version,
        "multilabel": model.multilabel,
        "encoder": model.encoder.meta.get("precision", "fp32"),
        "per_item_ms": {},
    }
    for batch in args.batch:
        rounds = max(20, args.calls // batch)
        stages = model_stages(model, [SENTENCE] * batch)
        result["per_item_ms"][f"batch_{batch}"] = interleaved(stages, rounds, per_item=batch)
        print(f"batch {batch}: {result['per_item_ms'][f'batch_{batch}']}")
    result["two_topics_ms"] = interleaved(clause_stage(model), max(20, args.calls // 3))
    print(f"two topics: {result['two_topics_ms']}")
    result["shortcuts_ab_ms"] = shortcuts_ab(model, max(20, args.calls // 3))
    print(f"shortcuts on (new) / off (old): {result['shortcuts_ab_ms']}")
    with tempfile.TemporaryDirectory() as tmp:
        stages, close = service_stages(model, Path(tmp))
        try:
            result["service_ms"] = interleaved(stages, args.calls)
        finally:
            close()
    svc = result["service_ms"]
    one = result["per_item_ms"][f"batch_{args.batch[0]}"]
    svc["framework_estimate"] = round(
        svc["asgi_suggest"] - one["suggest_total"] - svc["db_insert"] - svc["json"], 3
    )
    print(f"service: {svc}")
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
