"""Schema fuzzing of the service (not a test): schemathesis generates requests from the OpenAPI and every
response must be no 5xx and conform to the documented schema (status code, content type, body).

    nice -n 10 python benchmarks/fuzz.py [--model DIR] [--examples 110] [--seed 15]

In-process against the ASGI app (no server, no network) on a fresh SQLite database, seeded with a few
contacts and review items so that reads and decisions find data. Each generated request is sent with each
role's key (logger, reviewer, analyst) and without one; positive and negative (invalid) data both.
`POST /v1/admin/reload` is left out (each call loads a model: its faults are in benchmarks/faults.py).
Results go to benchmarks/results/fuzz.json. `tests/service/test_fuzz.py` runs the same with a few examples.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "fuzz.json"
SKIP = {("POST", "/v1/admin/reload")}


def fuzz(app: Any, headers: dict[str, dict[str, str]], examples: int, seed: int = 15) -> dict[str, Any]:
    """Fuzz every operation of a started `app` with `examples` cases per operation and generation mode, each
    sent once per entry of `headers`. Returns counts and the failures (server errors, schema mismatches)."""
    import schemathesis
    from schemathesis.core.result import Err
    from schemathesis.generation import GenerationMode

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    tally: dict[str, Any] = {"cases": 0, "statuses": Counter(), "failures": [], "unsatisfiable": []}
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # an operation schemathesis cannot read: a failure of the schema itself
            tally["failures"].append({"operation": None, "server_error": False, "failure": str(result.err())})
            continue
        op = result.ok()
        if (op.method.upper(), op.path) not in SKIP:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz_operation(op, mode, headers, examples, seed, tally)
    failures = tally["failures"]
    return {
        "cases": tally["cases"],
        "server_errors": sum(f["server_error"] for f in failures),
        "schema_mismatches": sum(not f["server_error"] for f in failures),
        "failures": failures,
        "no_negative_cases": tally["unsatisfiable"],
        "statuses": dict(sorted(tally["statuses"].items())),
    }


def _fuzz_operation(
    op: Any, mode: Any, headers: dict[str, dict[str, str]], examples: int, seed: int, tally: dict[str, Any]
) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed
    from hypothesis.errors import Unsatisfiable
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance]
    checks.append(response_schema_conformance)
    name = f"{op.method.upper()} {op.path}"

    @fixed_seed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        for role, extra in headers.items():
            tally["cases"] += 1
            sent = {**(case.headers or {}), **extra}
            if not extra:
                sent.pop("X-API-Key", None)
            case.headers = sent
            response = case.call()
            tally["statuses"][f"{name} {response.status_code}"] += 1
            try:
                case.validate_response(response, checks=checks, headers=sent)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - a failed check (FailureGroup)
                tally["failures"].append(
                    {
                        "operation": name,
                        "mode": mode.value,
                        "role": role,
                        "status": response.status_code,
                        "server_error": response.status_code >= 500,
                        "failure": str(exc).strip()[:600],
                        "request": case.as_curl_command()[:600],
                    }
                )

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid (no parameters, no body): the positive cases cover it
        tally["unsatisfiable"].append(f"{name} {mode.value}")


def seed_data(client: Any, headers: dict[str, dict[str, str]]) -> None:
    """A few contacts (some queued for review) so that reads, reports and decisions find something."""
    for i, text in enumerate(["My parcel is late", "Refund please", "Rude driver", "Card declined"]):
        answer = client.post("/v1/suggest", json={"text": text}, headers=headers["logger"]).json()
        top = answer["suggestions"][0]["id"]
        chosen = top if i % 2 else client.app.state.model.taxonomy.active_ids[-1]
        body = {
            "text": text,
            "channel": "web",
            "description": chosen,
            "suggestion_id": answer["suggestion_id"],
        }
        client.post("/v1/contacts", json=body, headers=headers["logger"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="A model directory (default: train the sample model).")
    parser.add_argument("--examples", type=int, default=110, help="Cases per operation and mode.")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from fastapi.testclient import TestClient

    from contactlens.model import ContactModel
    from contactlens.settings import Settings
    from service.app import create_app

    keys = {"logger": "fuzz-logger", "reviewer": "fuzz-reviewer", "analyst": "fuzz-analyst"}
    headers = {role: {"X-API-Key": key} for role, key in keys.items()} | {"none": {}}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or train_sample(Path(tmp))
        settings = Settings(
            home=Path(tmp),
            database_url=f"sqlite:///{tmp}/fuzz.db",
            api_keys=",".join(f"{k}:{r}" for r, k in keys.items()),
            model_uri=str(model_dir),
        )
        started = time.perf_counter()
        with TestClient(create_app(settings, ContactModel.load(model_dir))) as client:
            seed_data(client, headers)
            out = fuzz(client.app, headers, args.examples, args.seed)
        seconds = time.perf_counter() - started
    out = {
        "cases": out["cases"],
        "server_errors": out["server_errors"],
        "schema_mismatches": out["schema_mismatches"],
        "targets": {"cases": 5000, "server_errors": 0, "schema_mismatches": 0},
        "examples_per_operation_and_mode": args.examples,
        "seed": args.seed,
        "seconds": round(seconds, 1),
        "loadavg": os.getloadavg(),
        "python": platform.python_version(),
        "failures": out["failures"][:50],
        "no_negative_cases": out["no_negative_cases"],
        "statuses": out["statuses"],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k not in ("statuses", "failures")}, indent=2))
    for failure in out["failures"][:10]:
        print(json.dumps(failure, indent=2))


def train_sample(tmp: Path) -> Path:
    """The sample model (data/train.csv) with the tests' quicker config, in `tmp/model`."""
    from contactlens import data, taxonomy
    from training.config import load_config
    from training.fit import train

    cfg = load_config()
    cfg.cv_folds = 3
    for head in (cfg.description, cfg.sentiment, cfg.multilabel):
        for m in head.members:
            m.C = [m.C[-1]]
    out = tmp / "model"
    train(data.load(ROOT / "data" / "train.csv"), taxonomy.load(ROOT / "data" / "taxonomy.yaml"), cfg, out)
    return out


if __name__ == "__main__":
    main()
