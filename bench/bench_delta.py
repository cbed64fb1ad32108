"""Viewer-stream speed: the patch for one changed row of a 1,000-row table,
against json.dumps of the whole view (what a server without deltas would send
each viewer) measured in the same run.

Run: python -m pytest bench --benchmark-enable   (see bench/README.md)
"""
from __future__ import annotations

import copy
import json
import timeit

import pytest

from advm.views import apply_delta, diff, encode_view

ROWS = 1000
CHANGED = 500  # position of the row that changes; its id is CHANGED + 1


def shop() -> dict:
    """A plain view: a few scalars and a table of ROWS six-field rows."""
    return {
        "title": "shop",
        "open": True,
        "count": ROWS,
        "items": [
            {
                "id": i,
                "name": f"item {i}",
                "qty": i % 7,
                "price": i * 0.25,
                "done": i % 3 == 0,
                "owner": "alice" if i % 2 else "bob",
            }
            for i in range(1, ROWS + 1)
        ],
    }


BEFORE = shop()
AFTER = copy.deepcopy(BEFORE)
AFTER["items"][CHANGED]["qty"] = 99
OLD = encode_view(BEFORE)
NEW = encode_view(AFTER)
# What a producer that reuses unchanged encoded subtrees hands to diff: only
# the changed row and the containers above it are new objects.
SHARED = dict(OLD)
SHARED["items"] = dict(OLD["items"])
SHARED["items"][str(CHANGED + 1)] = NEW["items"][str(CHANGED + 1)]
PATCH = diff(OLD, NEW)
WHOLE = json.dumps(AFTER)


def test_the_patch_is_one_row():
    assert PATCH == {"items": {str(CHANGED + 1): {"qty": 99}}}
    assert diff(OLD, SHARED) == PATCH


@pytest.fixture(scope="module")
def dumps_seconds() -> float:
    """The baseline, best of several timed runs: serialize the whole view."""
    return min(timeit.repeat(lambda: json.dumps(AFTER), number=20, repeat=15)) / 20


def record(benchmark, baseline: float) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable: ran once, nothing to report
        return
    best = stats.stats.min
    benchmark.extra_info["rows"] = ROWS
    benchmark.extra_info["patch_bytes"] = len(json.dumps(PATCH, separators=(",", ":")))
    benchmark.extra_info["whole_view_bytes"] = len(WHOLE)
    benchmark.extra_info["json_dumps_whole_view_us_best"] = round(baseline * 1e6, 1)
    benchmark.extra_info["x_json_dumps_time_best"] = round(best / baseline, 3)


@pytest.mark.benchmark(group="delta")
def test_diff_one_row_of_1000(benchmark, dumps_seconds):
    """diff of two independently encoded views: walks every row."""
    assert benchmark(diff, OLD, NEW) == PATCH
    record(benchmark, dumps_seconds)


@pytest.mark.benchmark(group="delta")
def test_diff_one_row_of_1000_shared_rows(benchmark, dumps_seconds):
    """diff when unchanged rows are the same objects: identity skips them."""
    assert benchmark(diff, OLD, SHARED) == PATCH
    record(benchmark, dumps_seconds)


@pytest.mark.benchmark(group="delta")
def test_diff_and_serialize_patch(benchmark, dumps_seconds):
    """What goes on the wire per viewer: the patch as JSON text."""
    text = benchmark(lambda: json.dumps(diff(OLD, NEW), separators=(",", ":")))
    assert len(text) < 40
    record(benchmark, dumps_seconds)


@pytest.mark.benchmark(group="delta")
def test_client_applies_patch(benchmark, dumps_seconds):
    """The client's side: parse the frame and merge it (idempotent here)."""
    client = encode_view(BEFORE)
    frame = json.dumps(PATCH)
    benchmark(lambda: apply_delta(client, json.loads(frame)))
    assert client == NEW
    record(benchmark, dumps_seconds)


@pytest.mark.benchmark(group="delta")
def test_baseline_json_dumps_whole_view(benchmark, dumps_seconds):
    """The baseline: json.dumps of the whole plain view."""
    assert benchmark(json.dumps, AFTER) == WHOLE
    record(benchmark, dumps_seconds)
