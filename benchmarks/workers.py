"""How to spend 2 cores on suggest (not a test): one process, or two workers, and how the workers listen.

    python benchmarks/workers.py --model DIR --database-url postgresql+psycopg://127.0.0.1/DB [--rounds 3]
        [--servers one reuseport shared reuseport3 reuseport4]

Servers of the same model on the same database (by default the first three below), measured in turn round by
round, so that they see the same load on the machine:

- `one`: `contactlens serve` (one process, two suggest batch threads);
- `reuseport`: `contactlens serve --workers 2` (service/supervisor.py: each worker on its own SO_REUSEPORT
  socket, one batch thread each);
- `shared`: uvicorn's own `--workers 2` (one listening socket accepted by whichever worker wakes first), with
  the environment `serve --workers 2` gives its workers; what `serve --workers` ran before the supervisor;
- `reuseportN`: `contactlens serve --workers N`, more workers than cores (one batch thread each).

Each round: a closed loop at concurrency 8 (`--duration` s), then an open loop at 200 requests/s
(`--open-duration` s), with benchmarks/service.py's load generator. Results go to
benchmarks/results/workers.json with the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
_spec = importlib.util.spec_from_file_location("service_benchmark", HERE / "service.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)  # benchmarks/service.py: the load generator (by path: the name
_spec.loader.exec_module(bench)  # `service` is the package)

RESULTS = HERE / "results" / "workers.json"


def start(name: str, args: argparse.Namespace, home: Path) -> tuple[subprocess.Popen, int]:
    port = bench.free_port()
    env = os.environ | {
        "PYTHONPATH": str(ROOT),
        "CONTACTLENS_HOME": str(home / name),
        "CONTACTLENS_DATABASE_URL": args.database_url,
        "CONTACTLENS_API_KEYS": f"{bench.KEY}:logger",
        "CONTACTLENS_MODEL_URI": args.model,
    }
    exe = str(Path(sys.executable).with_name("contactlens"))
    if name == "one":
        cmd = [exe, "serve", "--port", str(port)]
    elif name.startswith("reuseport"):
        cmd = [exe, "serve", "--port", str(port), "--workers", name.removeprefix("reuseport") or "2"]
    else:  # what `serve --workers 2` sets for its workers (service/cli.py), then uvicorn's own supervisor
        (home / name / "prometheus").mkdir(parents=True)
        env |= {
            "CONTACTLENS_SUGGEST_BATCH_WORKERS": "1",
            "CONTACTLENS_RELOAD_POLL_SECONDS": "5",
            "PROMETHEUS_MULTIPROC_DIR": str(home / name / "prometheus"),
        }
        run = f"import uvicorn; uvicorn.run('service.app:create_app', factory=True, port={port}, workers=2)"
        cmd = [sys.executable, "-c", run]
    log = (home / f"{name}.log").open("w")
    server = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    bench.wait_ready(server, port, name, home / f"{name}.log")
    for _ in range(40):  # every worker's first calls (new connections spread over the workers)
        httpx.post(
            f"http://127.0.0.1:{port}/v1/suggest",
            json={"text": bench.SENTENCE},
            headers={"X-API-Key": bench.KEY, "Connection": "close"},
            timeout=30,
        )
    return server, port


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="Artifact directory or models:/NAME@ALIAS.")
    parser.add_argument("--database-url", required=True, help="PostgreSQL (several workers want it).")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="Seconds per closed loop.")
    parser.add_argument("--open-duration", type=float, default=20.0, help="Seconds per open loop.")
    parser.add_argument(
        "--servers",
        nargs="+",
        default=["one", "reuseport", "shared"],
        help="Which servers: one, reuseport, shared, reuseportN (serve --workers N).",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    names = tuple(args.servers)
    for name in names:
        if name not in ("one", "shared") and not (
            name.startswith("reuseport") and (name[9:] == "" or name[9:].isdigit() and int(name[9:]) > 0)
        ):
            parser.error(f"--servers: unknown server {name!r} (one, reuseport, shared or reuseportN)")
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "settings": {k: str(v) for k, v in vars(args).items()},
        "rounds": [],
    }
    servers = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            ports = {}
            for name in names:
                server, ports[name] = start(name, args, Path(tmp))
                servers.append(server)
            time.sleep(10)  # the redaction pipelines load in the background after ready
            for r in range(args.rounds):
                row: dict[str, Any] = {}
                for name in names:
                    row[f"{name}_c8"] = asyncio.run(
                        bench.closed_loop(ports[name], "/v1/suggest", 8, args.duration)
                    )
                for name in names:
                    row[f"{name}_open200"] = asyncio.run(
                        bench.open_loop(ports[name], 200, args.open_duration)
                    )
                result["rounds"].append(row)
                print(
                    r,
                    {
                        k: (v.get("requests_per_s"), v["p50_ms"], v["p99_ms"], v["errors"])
                        for k, v in row.items()
                    },
                    flush=True,
                )
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(60)
    rounds = result["rounds"]
    result["median"] = {
        f"{name}_{what}": {
            key: statistics.median(row[f"{name}_{what}"][key] for row in rounds)
            for key in ("requests_per_s", "p50_ms", "p99_ms")
            if rounds[0][f"{name}_{what}"].get(key) is not None
        }
        for name in names
        for what in ("c8", "open200")
    }
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["median"], indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
