"""GET /metrics (net/metrics.py, spec/protocol.md 8.12) and `advm run
--log-format json` (net/logs.py): the numbers move with traffic, and a log
line is one JSON object with the documented fields."""
from __future__ import annotations

import asyncio
import json
import logging
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from advm.net.client import ClientError
from advm.net.logs import FIELDS, configure
from advm.net.metrics import Metrics
from advm.store import open_store
from server_kit import run

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "console.adb"
SOURCE = FIXTURE.read_text()


def _get(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.headers["Content-Type"], r.read().decode("utf-8")


async def scrape(srv) -> dict:
    """{(name, labels as a sorted tuple): value} of every sample."""
    kind, text = await asyncio.get_running_loop().run_in_executor(
        None, _get, f"{srv.url}metrics")
    assert kind.startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.mark.parametrize("workers", [0, 1])
def test_metrics_move_with_traffic(tmp_path, workers):
    async def scenario(kit):
        async with kit.serve(SOURCE, store=open_store(tmp_path / "store"),
                             workers=workers) as srv:
            Metrics(srv.router, srv)
            before = await scrape(srv)
            assert before[("advm_documents_loaded", ())] == 0
            assert before.get(("advm_inputs_total", (("kind", "send"),)), 0) == 0

            alice = await kit.client(srv, "alice")
            await alice.create("d1")
            await alice.create("d2")
            doc = await alice.open("d1")
            for text in ("a", "b", "c"):
                await doc.send("say", {"text": text})
            with pytest.raises(ClientError) as e:
                await doc.send("spin", {"text": "x"})
            assert e.value.reason == "budget"

            after = await scrape(srv)
            assert after[("advm_inputs_total", (("kind", "send"),))] == 4
            assert after[("advm_inputs_total", (("kind", "create"),))] == 2
            assert after[("advm_input_failures_total", (("reason", "budget"),))] == 1
            assert after[("advm_budget_exhaustions_total", ())] == 1
            assert after[("advm_transaction_seconds_count", (("kind", "send"),))] == 4
            assert after[("advm_transaction_seconds_sum", (("kind", "send"),))] > 0
            assert after[("advm_commit_seconds_count", ())] >= 1
            assert after[("advm_commit_operations_total", ())] >= 5
            assert after[("advm_documents_loaded", ())] == 2
            assert after[("advm_documents_sleeping", ())] == 0
            assert after[("advm_viewers", ())] == 1
            assert after[("advm_sockets", ())] == 1
            assert after[("advm_queue_depth", ())] == 0
            assert ("advm_worker_inflight", (("worker", "0"),)) in after
            # Memory (spec/runtime.md 7.1): the two documents' estimates, added up.
            slots = [srv.router.slots[k] for k in ("d1", "d2")]
            held = after[("advm_document_bytes", (("worker", "0"),))]
            assert held == sum(s.bytes for s in slots) and min(s.bytes for s in slots) > 0
            assert after[("advm_document_bytes_largest", (("worker", "0"),))] == max(s.bytes for s in slots)
            assert after[("advm_memory_budget_bytes", ())] == srv.router.memory_budget
            assert after[("advm_budget_unloads", ())] == 0 and after[("advm_memory_refusals", ())] == 0

            await doc.end()
            await doc_after_end(kit, srv)

    async def doc_after_end(kit, srv):
        gone = await scrape(srv)
        assert gone[("advm_viewers", ())] == 0

    run(scenario)


def test_sleeping_documents_are_counted(tmp_path):
    async def scenario(kit):
        store = open_store(tmp_path / "store")
        async with kit.serve(SOURCE, store=store, idle_unload_s=0.05) as srv:
            Metrics(srv.router, srv)
            alice = await kit.client(srv, "alice")
            await alice.create("d1")
            while srv.router.loaded():  # the reaper unloads it once idle
                await asyncio.sleep(0.02)
            now = await scrape(srv)
            assert now[("advm_documents_loaded", ())] == 0
            assert now[("advm_documents_sleeping", ())] == 1

    run(scenario)


def test_json_log_formatter_fields():
    import io

    stream = io.StringIO()
    handler = configure("json", stream)
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("advm.server").error("request %r failed", 7, exc_info=True,
                                                   extra={"reason": "internal"})
    finally:
        logging.getLogger().removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert set(FIELDS) <= set(record)
    assert record["level"] == "ERROR" and record["logger"] == "advm.server"
    assert record["message"] == "request 7 failed" and record["reason"] == "internal"
    assert record["time"].endswith("Z") and "ValueError: boom" in record["exc_info"]


def test_advm_run_log_format_json_and_metrics(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "advm", "run", str(FIXTURE), "--port", "0", "--workers", "1",
         "--store", str(tmp_path / "store"), "--log-format", "json"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        line = proc.stdout.readline()
        assert "serving" in line, line + proc.stderr.read()
        page = line.split(" at ")[1].split(" ")[0]
        kind, text = _get(page + "metrics")
        assert "advm_documents_loaded 0.0" in text
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    records = [json.loads(x) for x in err.splitlines()]
    events = [r.get("event") for r in records]
    assert events[:1] == ["serving"] and events[-1] == "stopped", err
    first = records[0]
    assert set(FIELDS) <= set(first)
    assert first["logger"] == "advm.run" and first["level"] == "INFO"
    assert first["workers"] == 1 and first["url"] == page


def test_text_log_format():
    import io

    stream = io.StringIO()
    handler = configure("text", stream)
    try:
        logging.getLogger("advm.run").info("serving", extra={"event": "serving"})
    finally:
        logging.getLogger().removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    stamp, level, rest = line.split(" ", 2)
    assert stamp.endswith("Z") and level == "INFO" and rest == "advm.run: serving"
