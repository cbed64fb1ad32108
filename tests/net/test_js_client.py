"""The JavaScript client (clients/js/): its own tests under Node's test runner
against a real `advm run` (clients/js/test/), the delta vectors it shares with
the Python reference, and the client in Chromium on a tiny page of its own,
through a server restart.

Node comes from Debian's `nodejs` package; Node before 22 has no global
WebSocket, so the tests then use the `ws` package (Debian's `node-ws`), or
Node 20's `--experimental-websocket`. Without them the tests skip, except
under CI=true, where they fail: CI installs them (.ci/run) and must run them.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from advm.views import apply_delta, materialize
from advm.views.merge import DeltaError
from conftest import ROOT
from test_browser import Served, browser, open_page  # noqa: F401 (browser: a fixture)

JS = ROOT / "clients" / "js"
NODE_TESTS = sorted((JS / "test").glob("*.test.js"))
VECTORS = JS / "test" / "vectors.json"
WAIT = 600  # seconds the whole node run may take before the test gives up

# Exits 0 when this node can open a WebSocket: its own, or the ws package's.
PROBE = ("if (typeof WebSocket !== 'function') { try { require('ws'); } "
         "catch { process.exit(3); } }")


def node_command() -> tuple[list[str] | None, str]:
    """The node command line the tests run with, or why there is none."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        return None, "no node (apt-get install nodejs)"
    for flags in ([], ["--experimental-websocket"]):
        probe = subprocess.run([node, *flags, "-e", PROBE], cwd=JS, capture_output=True,
                               stdin=subprocess.DEVNULL, timeout=60)
        if probe.returncode == 0:
            return [node, *flags], ""
    return None, (f"{node} has no WebSocket: Node >= 22, or the ws package "
                  "(apt-get install node-ws)")


@pytest.fixture(scope="module")
def node():
    command, reason = node_command()
    if command is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the JavaScript client's tests: {reason}")
        pytest.skip(reason)
    return command


def test_the_javascript_client_passes_its_node_tests(node):
    assert [p.name for p in NODE_TESTS] == ["admin.test.js", "attach.test.js", "client.test.js", "delta.test.js"]
    env = dict(os.environ, ADVM_PYTHON=sys.executable)
    r = subprocess.run([*node, "--test", *map(str, NODE_TESTS)], cwd=JS, env=env,
                       capture_output=True, text=True, timeout=WAIT, stdin=subprocess.DEVNULL)
    report = r.stdout + r.stderr
    assert r.returncode == 0, report
    # Every test ran and passed (the TAP summary), none skipped.
    summary = dict(line[2:].split(" ", 1) for line in r.stdout.splitlines()
                   if line.startswith("# ") and line[2:].split(" ", 1)[0] in
                   ("tests", "pass", "fail", "skipped", "todo", "cancelled"))
    assert int(summary["tests"]) >= 16 and summary["pass"] == summary["tests"], report
    assert summary["fail"] == summary["skipped"] == summary["cancelled"] == "0", report


def test_the_shared_vectors_hold_for_the_python_client():
    """What delta.test.js checks in JavaScript holds for views/merge.py."""
    data = json.loads(VECTORS.read_text(encoding="utf-8"))
    assert len(data["vectors"]) > 100
    for i, v in enumerate(data["vectors"]):
        held = apply_delta(v["before"], v["patch"])
        assert held == v["after"], i
        assert materialize(held) == v["view"], i
    for r in data["refused"]:
        with pytest.raises(DeltaError) as e:
            apply_delta(r["before"], r["patch"])
        assert r["error"] in str(e.value)


def test_the_vectors_file_is_what_make_vectors_writes():
    sys.path.insert(0, str(JS / "test"))
    try:
        import make_vectors
    finally:
        sys.path.remove(str(JS / "test"))
    assert VECTORS.read_text(encoding="utf-8") == make_vectors.text(), (
        "clients/js/test/vectors.json is stale: python clients/js/test/make_vectors.py")


# ---------------------------------------------------------------- in Chromium

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>board</title>
<link rel="icon" href="data:,">
<p id="status">loading</p>
<ol id="items"></ol>
<script type="module">
  import { Client } from "/advm/index.js";
  const client = await Client.connect(`ws://${location.host}/~s`);
  await client.mint("pat", { use: true });
  const doc = await client.open("b1");
  const show = () => {
    document.getElementById("items").replaceChildren(...doc.view.items.map(
      (row) => Object.assign(document.createElement("li"), { textContent: row.text })));
    document.getElementById("status").textContent = `seq ${doc.seq}, ${doc.status}`;
  };
  doc.on("change", show);
  doc.on("status", show);
  show();
  window.addFromPage = (text, rank) => doc.send("add", { text, rank });
</script>
"""


def test_a_page_of_ones_own_sees_its_view_update_and_resumes_after_a_restart(browser, tmp_path):  # noqa: F811
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text(PAGE, encoding="utf-8")
    served = ServedStatic(tmp_path / "store", JS / "test" / "fixtures" / "board.adb", web)
    try:
        ws_url = served.url.replace("http://", "ws://").rstrip("/") + "/~s"
        with ThreadPoolExecutor(1) as pool:
            pool.submit(_python_side, ws_url, "create", None).result()
            ctx, page, problems = open_page_plain(browser, served.url)
            try:
                page.wait_for_selector("#status:has-text('seq 1, open')")
                assert page.locator("#items li").count() == 0
                # Another client's input reaches the page as a delta.
                pool.submit(_python_side, ws_url, "add", {"text": "from python", "rank": 2}).result()
                page.wait_for_selector("#items li:has-text('from python')")
                page.evaluate("() => window.addFromPage('from the page', 1)")
                page.wait_for_selector("#items li:nth-child(1):has-text('from the page')")
                assert page.locator("#items li").all_inner_texts() == ["from the page", "from python"]
                assert page.locator("#status").inner_text() == "seq 3, open"

                # The server restarts on the same port and store: the page's
                # client reconnects and reopens the document (a whole view).
                assert problems == []
                port = served.url.rstrip("/").rsplit(":", 1)[1]
                served.stop()
                page.wait_for_selector("#status:has-text('reconnecting')")
                served = ServedStatic(tmp_path / "store", JS / "test" / "fixtures" / "board.adb",
                                      web, port=port)
                page.wait_for_selector("#status:has-text('seq 1, open')", timeout=30_000)
                assert page.locator("#items li").all_inner_texts() == ["from the page", "from python"]
                pool.submit(_python_side, ws_url, "add", {"text": "after", "rank": 3}).result()
                page.wait_for_selector("#items li:nth-child(3):has-text('after')")
                assert page.locator("#status").inner_text() == "seq 2, open"
                # Chromium logs each attempt made while the server was away.
                refused = f"WebSocket connection to '{ws_url}' failed"
                assert [p for p in problems if refused not in p] == []
            finally:
                ctx.close()
    finally:
        served.stop()


class ServedStatic(Served):
    """`advm run DOC --static WEB`: one's own page, with the client at /advm/."""

    def __init__(self, store: Path, document: Path, web: Path, port: str = "0"):
        self.store = store
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "advm", "run", str(document), "--port", port, "--store",
             str(store), "--static", str(web), "--workers", "0"],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        line = self.proc.stdout.readline()
        if "serving" not in line:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"the server did not start: {line}{out}{err}")
        self.url = line.split(" at ", 1)[1].split()[0]


def open_page_plain(browser, url):
    """open_page without waiting for the dev page's status."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.goto(url)
    return context, page, problems


def _python_side(url: str, what: str, message) -> None:
    """The Python client, as another person: create b1, or add a row to it."""
    import asyncio

    from advm.net.client import Client

    async def go():
        async with await Client.connect(url) as client:
            minted = await client.request("identity/mint", principal="quinn")
            client.identity = minted["identity"]
            if what == "create":
                await client.create("b1")
            else:
                doc = await client.open("b1")
                await doc.send(what, message)

    asyncio.run(go())
