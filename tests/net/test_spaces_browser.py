"""The dev page of a server hosting several spaces (spec/protocol.md 8.17), in
headless Chromium against `advm run DIR`: with no default space the page
opens the first space; the console lists every space with its documents and
each link opens the page in that space. Skips as tests/net/test_browser.py
does without Chromium (fails under CI=true)."""
from __future__ import annotations

import asyncio
import concurrent.futures

import pytest

from advm.net.client import Client
from advm.net.tokens import Tokens
from conftest import IGNORED
from server_kit import COUNTER
from test_browser import Served, browser, open_page  # noqa: F401 (browser: a fixture)
from test_spaces import LEDGER


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("spaces")
    (root / "apps").mkdir()
    (root / "apps" / "counter.adb").write_text(COUNTER)
    (root / "apps" / "ledger.adb").write_text(LEDGER)
    served = Served(root / "store", root / "apps")
    try:
        yield served
    finally:
        if served.proc.poll() is None:
            err = served.stop()
            assert IGNORED not in err, err


def _documents(served, space: str, keys) -> None:
    token = Tokens.from_store_dir(served.store).mint("alice")
    ws = served.url.replace("http://", "ws://") + "~s"

    async def go():
        async with await Client.connect(ws, token, space=space) as c:
            for key in keys:
                await c.create(key)

    # Playwright's sync API holds an event loop on this thread: the client runs on another.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(asyncio.wait_for(go(), 30))).result()


def test_the_console_lists_the_spaces_and_opens_each(browser, server):
    _documents(server, "counter", ["c1", "c2"])
    _documents(server, "ledger", ["books"])
    context, page, problems = open_page(browser, server.url)
    try:
        assert page.url.endswith("?space=counter")  # no default space: the first one
        page.wait_for_selector("#console-spaces li[data-space=ledger]")
        rows = page.locator("#console-spaces li")
        assert rows.count() == 2
        counter = page.locator("#console-spaces li[data-space=counter]")
        assert "picked" in counter.get_attribute("class")
        assert "2 documents" in counter.inner_text()
        page.wait_for_selector("#console-status:has-text('2 documents in space counter')")
        page.locator("#console-docs [data-key=c1]").wait_for()
        page.get_by_role("link", name="ledger").click()
        page.wait_for_selector("#status.ok")
        assert page.url.endswith("?space=ledger")
        page.wait_for_selector("#console-status:has-text('1 document in space ledger')")
        page.locator("#console-docs [data-key=books]").wait_for()
        assert page.locator("#console-docs [data-key=c1]").count() == 0
        assert [p for p in problems if "unknown_space" not in p] == []
    finally:
        context.close()
