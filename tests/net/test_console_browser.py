"""The dev console at `/` (net/static/console.js), in headless Chromium
against `advm run` on 127.0.0.1 (whose own page may use the admin methods):
the document list with state, loaded, timer, asks and viewers; the live
transaction log; time travel to a seq; another principal's view, marked as
a preview; the @debug lines, live through a document/debug stream and at a
seq through replay; screenshots taken and checked. Skips as
tests/net/test_browser.py does without Chromium (fails under CI=true)."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from conftest import IGNORED
from test_browser import Served, browser, open_page, use_name  # noqa: F401 (browser: a fixture)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "console.adb"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    served = Served(tmp_path_factory.mktemp("console") / "store", FIXTURE)
    try:
        yield served
    finally:
        if served.proc.poll() is None:
            err = served.stop()
            assert IGNORED not in err, err


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def say(page, text: str) -> None:
    form = page.get_by_role("form", name="Send to say")
    form.get_by_label("text (string)").fill(text)
    form.get_by_role("button", name="Send to say").click()
    from playwright.sync_api import expect

    expect(page.locator('#view [data-path="last"] > dd')).to_have_text(f'"{text}"')


def test_console_lists_logs_travels_and_previews(browser, server, tmp_path):
    from playwright.sync_api import expect

    ctx, page, problems = open_page(browser, server.url)
    try:
        use_name(page, "alice", "alice@")
        page.get_by_label("Document key").fill("d1")
        page.get_by_role("button", name="Create").click()
        page.wait_for_selector("#log li.info:has-text('created document “d1”')")
        page.get_by_role("button", name="Open", exact=True).click()
        page.wait_for_selector('[data-path="count"]')
        say(page, "one")
        say(page, "two")

        # The document list: key, state label, loaded, timer, asks, viewers.
        row = page.locator('#console-docs tr[data-key="d1"]')
        expect(row).to_contain_text("#waiting")
        expect(row).to_contain_text("alice@")
        expect(row).to_contain_text("loaded")
        expect(row.locator("td").nth(3)).to_contain_text("in 60 min")
        expect(row.locator("td").nth(4)).to_have_text("none")
        row.get_by_role("button", name="d1").click()

        # The log: create, connect, the two says with their inputs.
        log = page.locator("#console-log")
        says = log.locator("tr", has_text="say")
        expect(says).to_have_count(2)
        expect(says.nth(0)).to_contain_text('{"text":"one"}')
        first = int(says.nth(0).get_attribute("data-seq"))

        # Live: a third message shows up in the log without a click, and its
        # @debug line in the live panel (alice may read them: the fixture's
        # @static debug policy), pushed by the document/debug stream.
        expect(page.locator("#debug-live-meta")).to_contain_text("live, as its inputs print them (read as alice@)")
        say(page, "three")
        expect(says).to_have_count(3)
        expect(page.locator("#console-debug-live li")).to_have_text(["said three as number 3"])

        # Time travel to the first say, as bob: a preview without alice's note.
        page.get_by_label("Principal", exact=True).fill("bob")
        says.nth(0).get_by_role("button", name=f"View at {first}").click()
        banner = page.locator("#preview-banner")
        expect(banner).to_contain_text("PREVIEW")
        expect(banner).to_contain_text(f"as bob@ would see it at seq {first} of")
        expect(banner).to_contain_text("time travel, read-only")
        view = page.locator("#preview-view")
        expect(view.locator('[data-path="count"] > dd')).to_have_text("1")
        expect(view.locator('[data-path="last"] > dd')).to_have_text('"one"')
        assert view.locator('[data-path="note"]').count() == 0
        expect(page.locator("#preview-delta")).to_contain_text('"count": 1')
        expect(page.locator("#console-debug")).to_have_text("said one as number 1")

        # As alice, at the latest seq: her note is there, and every @debug line.
        page.get_by_label("Principal", exact=True).fill("alice")
        page.get_by_label("At seq", exact=True).fill("")
        page.get_by_role("button", name="Preview", exact=True).click()
        expect(banner).to_contain_text("as alice@ would see it at seq")
        expect(banner).to_contain_text("the latest")
        expect(view.locator('[data-path="note"] > dd')).to_have_text('"secret three"')
        expect(page.locator("#console-debug li")).to_have_count(3)

        shot = tmp_path / "console.png"
        page.screenshot(path=str(shot), full_page=True)
        width, height = png_size(shot)
        assert width == 1280 and height > 900
        panel = tmp_path / "preview.png"
        page.locator("section.preview").screenshot(path=str(panel))
        assert png_size(panel)[0] > 600 and panel.stat().st_size > 5_000
        for selector in ("#console-docs tr", "#console-log tr", "#preview-banner",
                         "#preview-view dl", "#console-debug li", "#console-debug-live li",
                         "#channels form"):
            assert page.locator(selector).first.is_visible(), selector
        assert page.locator("#log li.error").all_inner_texts() == []
        assert page.locator("#console-status .bad").count() == 0
        assert problems == []
    finally:
        ctx.close()
