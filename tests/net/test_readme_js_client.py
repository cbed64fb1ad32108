"""README's JavaScript client example, run as written: the page is saved as
web/index.html beside the starter of `advm new notes`, served by `advm run
notes.adb --static web` on 127.0.0.1 (a free port), and opened in headless
Chromium, where it signs in, creates the document, shows lines as they are
added (by the page and by a Python client) and says why one was refused."""
from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from test_browser import browser, open_page  # noqa: F401 (browser: a fixture)

from advm.net.client import Client

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60  # seconds any one process may take before the test gives up on it


def example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- readme: js-client -->\n```html\n(.*?)^```$", readme, re.S | re.M)
    assert m, "README has no marked JavaScript client example"
    return m.group(1)


def advm(*args: str, cwd: Path) -> str:
    r = subprocess.run([sys.executable, "-m", "advm", *args], cwd=cwd, capture_output=True,
                       text=True, timeout=WAIT)
    assert r.returncode == 0, r.stderr
    return r.stdout


def bob_says(url: str, text: str) -> None:
    """Another person, from Python: bob joins as the partner and adds a line."""
    async def go():
        async with await Client.connect(url) as client:
            client.identity = (await client.request("identity/mint", principal="bob"))["identity"]
            doc = await client.open("main")
            await doc.send("say", {"text": text})

    asyncio.run(go())


def test_the_readme_javascript_example_runs_in_chromium(browser, tmp_path):  # noqa: F811
    page_text = example()
    assert 'from "/advm/index.js"' in page_text
    advm("new", "notes", cwd=tmp_path)
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.html").write_text(page_text, encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, "-m", "advm", "run", "notes.adb", "--static", "web", "--port", "0"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        first = server.stdout.readline()
        assert "serving" in first, first + server.stderr.read()
        url = first.split(" at ", 1)[1].split()[0]
        ws_url = first.split("(WebSocket ", 1)[1].split(")", 1)[0]
        context = browser.new_context()
        try:
            page = context.new_page()
            page.set_default_timeout(10_000)
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            # The example has no icon, so the browser's request for one fails
            # (a console error that names no URL): failed loads are checked
            # by their responses instead, where only that one may fail.
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type == "error" and not m.text.startswith("Failed to load resource")
                    else None)
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
            page.goto(url)
            status = page.locator("#status")
            page.wait_for_selector("#status:has-text('0 lines, open')")

            page.get_by_label("Text").fill("hello")
            page.get_by_role("button", name="Say").click()
            page.wait_for_selector("#lines li:has-text('hello')")
            assert status.inner_text() == "1 lines, open"
            assert page.get_by_label("Text").input_value() == ""

            page.get_by_label("Text").fill("   ")
            page.get_by_role("button", name="Say").click()
            page.wait_for_selector("#status:has-text('abort')")
            assert status.inner_text() == "abort: notes.adb:69:5: the transaction aborted"

            with ThreadPoolExecutor(1) as pool:
                pool.submit(bob_says, ws_url, "hi from bob").result()
            page.wait_for_selector("#lines li:has-text('hi from bob')")
            assert page.locator("#lines li").all_inner_texts() == ["hello", "hi from bob"]
            assert status.inner_text() == "2 lines, open"

            # A reload: alice again, the document already exists.
            page.reload()
            page.wait_for_selector("#status:has-text('2 lines, open')")
            assert problems == []
        finally:
            context.close()
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            _, err = server.communicate(timeout=WAIT)
            assert server.returncode == 0, err
