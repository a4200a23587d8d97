"""Schema fuzzing in the suite (issue 15): schemathesis, in-process against the ASGI app, every operation with
each role's key and without one, positive and negative data. No 5xx, every response as documented.

A few examples per operation (about 600 requests in all); `benchmarks/fuzz.py` runs thousands.
"""

from __future__ import annotations

import json

from service_helpers import HEADERS

from benchmarks.fuzz import fuzz, seed_data

EXAMPLES = 6  # per operation and generation mode; each case is sent 4 times (3 roles, no key)


def test_fuzzing_finds_no_server_error_and_no_schema_mismatch(client) -> None:
    headers = {**HEADERS, "none": {}}
    seed_data(client, headers)
    out = fuzz(client.app, headers, EXAMPLES)
    assert out["cases"] >= 4 * 2 * 14, out["cases"]  # every operation but reload, both modes, each caller
    assert out["failures"] == [], json.dumps(out["failures"][:5], indent=2)
    statuses = {key.rsplit(" ", 1)[1] for key in out["statuses"]}
    assert {"200", "401", "403", "422"} <= statuses  # the fuzzer did reach past authentication
