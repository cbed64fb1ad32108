"""A refused connection names the hook that refused it (spec/protocol.md 8.7):
no @connected at all, @connected returning false, or @connected failing (its
own error code and line); and
the browser page shows it in the view."""
from __future__ import annotations

import pytest
from server_kit import run
from test_browser import Served, browser, open_page, use_name  # noqa: F401 (browser: a fixture)

from advm.net.client import ClientError

OPEN_TO_OWNER = """\
@static {
  create {
    return true;
  }
}
public principal owner;
@construct {
  owner = @who;
}
@connected {
  return @who == owner;
}
"""

NO_HOOK = """\
@static {
  create {
    return true;
  }
}
public int n;
"""

FAILS = NO_HOOK + """\
@connected {
  assert (n > 0);
  return true;
}
"""


async def refusal(kit, source: str, who: str) -> ClientError:
    async with kit.serve(source) as srv:
        owner = await kit.client(srv, "olga")
        await owner.create("d")
        other = await kit.client(srv, who)
        with pytest.raises(ClientError) as e:
            await other.open("d")
        return e.value


def test_connected_returning_false_is_named():
    async def scenario(kit):
        e = await refusal(kit, OPEN_TO_OWNER, "bob")
        assert e.reason == "connect_refused"
        assert e.message == "@connected returned false for bob@ on document 'd'"

    run(scenario)


def test_a_document_without_connected_says_so():
    async def scenario(kit):
        e = await refusal(kit, NO_HOOK, "olga")  # even its creator
        assert e.reason == "connect_refused"
        assert e.message == ("document 'd' has no @connected, so nobody may connect "
                             "(spec/language.md 4.20); olga@ was refused")

    run(scenario)


def test_connected_that_fails_reports_the_failure_with_its_line():
    async def scenario(kit):
        e = await refusal(kit, FAILS, "bob")
        assert e.reason == "assert"
        assert "doc.adb:8:3" in e.message

    run(scenario)


# ---------------------------------------------------------------- the page


def test_the_page_shows_which_hook_refused(browser, tmp_path):
    (tmp_path / "closed.adb").write_text(NO_HOOK, encoding="utf-8")
    served = Served(tmp_path / "store", document=tmp_path / "closed.adb")
    try:
        ctx, page, problems = open_page(browser, served.url)
        try:
            use_name(page, "olga", "olga@")
            page.get_by_label("Document key").fill("main")
            page.get_by_role("button", name="Create").click()
            page.wait_for_selector("#log li.info:has-text('created document')")
            page.get_by_role("button", name="Open", exact=True).click()
            refused = page.locator("#view p.refused")
            refused.wait_for()
            assert refused.inner_text() == (
                "Not let in to “main”: document 'main' has no @connected, so nobody may "
                "connect (spec/language.md 4.20); olga@ was refused")
            assert page.locator("#log li.error", has_text="connect_refused").count() == 1
            assert problems == []
        finally:
            ctx.close()
    finally:
        served.stop()
