"""The browser dev page (net/static/), end to end in headless Chromium: the
server a user starts serves it at `/`, two people in two browser contexts
open one tic-tac-toe document and play it to a win by clicking the buttons
of their `decide` asks, refused answers and messages show as errors, and the
JavaScript client's merge (clients/js/delta.js, which the page imports)
rebuilds the same views as the Python reference (views/merge.py) from the
same patches.

Needs Debian's /usr/bin/chromium and the `playwright` package (never its
downloaded browsers). Without them the tests skip, except under CI=true,
where they fail: CI installs chromium (.ci/run) and must run them.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advm.views import ViewState, diff, encode_view
from advm.net.tokens import Tokens
from conftest import EXAMPLES, IGNORED, ROOT
from deltakit import PROPS, edited_view, views, wire

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 10_000  # any one wait in the page; a whole game takes a few seconds


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not CHROMIUM.exists():
        return f"no {CHROMIUM} (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


class Served:
    """`advm run` as a user runs it (the README's first command), on a free
    port and a fresh store."""

    def __init__(self, store: Path, document: Path = EXAMPLES / "tictactoe.adb"):
        self.store = store
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "advm", "run", str(document),
             "--port", "0", "--store", str(store)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        line = self.proc.stdout.readline()
        if "serving" not in line:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"the server did not start: {line}{out}{err}")
        # "advm: serving FILE at http://127.0.0.1:PORT/ (WebSocket ws://...)"
        self.url = line.split(" at ", 1)[1].split()[0]

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            raise AssertionError(f"the server did not stop on Ctrl-C:\n{err}")
        assert self.proc.returncode == 0, err
        return err


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    served = Served(tmp_path_factory.mktemp("browser") / "store")
    try:
        yield served
    finally:
        if served.proc.poll() is None:
            err = served.stop()
            assert IGNORED not in err, err


def open_page(browser, url):
    """One person: a browser context of their own, the page loaded and connected."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.goto(url)
    page.wait_for_selector("#status.ok")
    return context, page, problems


def use_token(page, token: str, principal: str) -> None:
    page.get_by_label("Token (from advm token NAME)").fill(token)
    page.get_by_label("Token", exact=True).check()
    page.get_by_role("button", name="Use this identity").click()
    page.wait_for_selector(f"#principal:has-text('You are {principal}.')")
    page.wait_for_selector("#status.ok")


def use_name(page, name: str, principal: str) -> None:
    page.get_by_label("Name (agent@authority, or just agent)").fill(name)
    page.get_by_label("A name of your choice (a development server signs it)").check()
    page.get_by_role("button", name="Use this identity").click()
    page.wait_for_selector(f"#principal:has-text('You are {principal}.')")
    page.wait_for_selector("#status.ok")


def open_document(page, key: str) -> None:
    page.get_by_label("Document key").fill(key)
    page.get_by_role("button", name="Open", exact=True).click()
    page.wait_for_selector("[data-path=games]")


def answer(page, ask_id: int, x: int, y: int) -> None:
    """Click square (x, y) among the options of decide ask `ask_id`."""
    ask = page.locator("fieldset.decide", has_text=f"ask {ask_id} on play")
    ask.get_by_role("button", name=f"x: {x}, y: {y}", exact=True).click()


def value(page, path: str) -> str:
    return page.locator(f'[data-path="{path}"] > dd').inner_text()


def errors(page) -> list[str]:
    return page.locator("#log li.error").all_inner_texts()


def test_two_people_play_tictactoe_to_a_win_in_two_browser_contexts(browser, server, tmp_path):
    from playwright.sync_api import expect

    token = Tokens.from_store_dir(server.store).mint("alice", ttl=600)
    a_ctx, alice, a_problems = open_page(browser, server.url)
    g_ctx, guest, g_problems = open_page(browser, server.url)
    try:
        assert alice.title() == "advm dev page"
        # Alice signs in with a token; the other tab stays a guest (anonymous).
        use_token(alice, token, "alice@")
        alice.get_by_label("Document key").fill("g1")
        alice.get_by_role("button", name="Create").click()
        alice.wait_for_selector("#log li.info:has-text('created document “g1”')")
        open_document(alice, "g1")
        assert value(alice, "player_x") == "alice@"
        assert value(alice, "player_o") == "(no one)"
        # The guest's page names the principal the server gave it, before
        # any document shows it.
        guest.wait_for_selector("#principal:has-text('(a guest')")
        guest_name = guest.locator("#me").inner_text()
        assert guest_name.startswith("guest-") and guest_name.endswith("@anonymous")
        assert guest.locator("#principal").inner_text() == (
            f"You are {guest_name} (a guest: this tab's own name, until it reconnects).")
        open_document(guest, "g1")
        alice.wait_for_selector('[data-path="player_o"] >> text=@anonymous')
        assert value(guest, "player_o") == guest_name == value(alice, "player_o")

        # Alice takes the top row; the guest tries a taken square once.
        answer(alice, 1, 0, 0)
        answer(guest, 2, 1, 1)
        answer(alice, 3, 1, 0)
        answer(guest, 4, 1, 0)
        guest.wait_for_selector("#log li.error:has-text('abort')")
        assert "Answer to ask 4 on play failed: abort: your answer to ask 4 was refused" \
            in errors(guest)[0]
        answer(guest, 4, 0, 1)  # the same ask is still open
        answer(alice, 5, 2, 0)

        for page in (alice, guest):
            page.wait_for_selector('[data-path="winner"]')
            assert value(page, "winner") == "alice@"
            assert value(page, "games") == "1" and value(page, "moves") == "5"
            assert page.locator("#asks").inner_text() == "Nothing is asked of you."
        top_row = [value(alice, f"board.{i}.piece") for i in range(3)]
        assert top_row == ["alice@"] * 3
        assert value(guest, "board.3.piece") == guest_name
        assert value(guest, "my_turn") == "false"
        assert errors(alice) == []
        shot_alice = tmp_path / "alice.png"
        shot_guest = tmp_path / "guest.png"
        alice.screenshot(path=str(shot_alice), full_page=True)
        guest.screenshot(path=str(shot_guest), full_page=True)
        assert shot_alice.stat().st_size > 10_000 and shot_guest.stat().st_size > 10_000

        # The rematch channel's form, generated from its message type: a
        # refused message shows its error, an accepted one starts game two.
        rematch = guest.get_by_role("form", name="Send to rematch")
        rematch.get_by_role("button", name="Send to rematch").click()
        guest.wait_for_selector("#log li.error:has-text('Message to rematch failed: abort')")
        rematch.get_by_label("ready (bool)").check()
        rematch.get_by_role("button", name="Send to rematch").click()
        guest.wait_for_selector("#log li.info:has-text('Message to rematch: accepted')")
        # The loser opens game two: the guest is asked next, and nobody has won.
        guest.wait_for_selector("fieldset.decide:has-text('ask 6 on play')")
        expect(alice.locator('[data-path="moves"] > dd')).to_have_text("0")
        assert alice.locator('[data-path="winner"]').count() == 0
        assert value(alice, "current") == guest_name
        assert a_problems == [] and g_problems == []
    finally:
        a_ctx.close()
        g_ctx.close()


def test_a_visitor_picks_a_name_and_the_server_signs_it(browser, server):
    ctx, page, problems = open_page(browser, server.url)
    try:
        assert page.locator("#me").inner_text().endswith("@anonymous")
        use_name(page, "carol", "carol@")
        page.wait_for_selector("#log li.info:has-text('the server signed a token for carol@')")
        # The signed token is a real one for this server's key, kept for reloads.
        token = page.locator("#token").input_value()
        assert Tokens.from_store_dir(server.store).verify(token) == "carol@"
        page.reload()
        page.wait_for_selector("#principal:has-text('You are carol@.')")
        assert page.get_by_label("Token", exact=True).is_checked()
        # A name the server will not sign leaves the tab as it was.
        use_name(page, "mallory@anonymous", "carol@")
        page.wait_for_selector("#log li.error:has-text('anonymous principals are made by the server')")
        assert page.locator("#me").inner_text() == "carol@"
        assert problems == []
    finally:
        ctx.close()


# --- the JavaScript client's merge (clients/js/delta.js) ----------------------

REPLAY = """(frames) => {
  const state = new window.advm.ViewState();
  return JSON.stringify(frames.map(([text, seq]) => {
    state.apply(JSON.parse(text), seq);
    return state.view;
  }));
}"""

REFUSE = """([view, patch]) => {
  try {
    window.advm.applyDelta(JSON.parse(view), JSON.parse(patch));
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
  return "accepted";
}"""


def comparable(value):
    """JSON as both ends can compare it: JavaScript has one number type, so
    2 and 2.0 are one value there; booleans stay apart from numbers."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return ("number", float(value) if math.isfinite(value) else value)
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return {k: comparable(v) for k, v in value.items()}


@pytest.fixture(scope="module")
def port_page(browser, server):
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url)
    page.wait_for_function("window.advm !== undefined")
    yield page
    context.close()


@PROPS
@given(first=views, data=st.data())
def test_the_page_rebuilds_the_same_views_as_the_python_client(port_page, first, data):
    views_seen = [first]
    for _ in range(data.draw(st.integers(1, 6))):
        views_seen.append(data.draw(edited_view(views_seen[-1])))
    frames, expected = [], []
    client = ViewState()
    before = {}
    for seq, view in enumerate(views_seen, start=1):
        encoded = encode_view(view)
        patch = diff(before, encoded) or {}
        before = encoded
        text = json.dumps(wire(patch))
        frames.append([text, seq])
        client.apply(json.loads(text), seq)
        expected.append(comparable(wire(client.view)))
    got = json.loads(port_page.evaluate(REPLAY, frames))
    assert [comparable(v) for v in got] == expected


REFUSED = [
    ({"t": [{"id": 1}, {"id": 2}]}, {"t": {"@o": [[0, 5]]}}, "range [0,5] does not fit"),
    ({}, {"t": {"@o": [[0, 0]]}}, "no prior order"),
    ({"t": [{"id": 1}, {"id": 2}]}, {"t": {"2": None}}, "disagree"),
    ({"t": [{"id": 1}]}, {"t": {"@o": [1, 1]}}, "disagree"),
    ({"t": [{"id": 1}]}, {"t": {"@o": "1"}}, "must be an array"),
    ({"t": [{"id": 1}]}, {"t": {"@o": [[0]]}}, "row ids and [start, end] ranges"),
    ({"t": [{"id": 1}]}, {"t": {"@o": [[0, "1"]]}}, "row ids and [start, end] ranges"),
    ({"t": [{"id": 1}]}, {"t": {"@o": ["1"]}}, "row ids and [start, end] ranges"),
    # (an id written 1.0 is refused by Python but is the integer 1 to
    # JavaScript: the server never writes one, so the ports may differ there)
]


@pytest.mark.parametrize("view, patch, message", REFUSED)
def test_the_page_refuses_the_patches_the_python_client_refuses(port_page, view, patch, message):
    got = port_page.evaluate(REFUSE, [json.dumps(encode_view(view)), json.dumps(patch)])
    assert got.startswith("DeltaError: ") and message in got, got


def test_the_page_refuses_a_repeated_or_reordered_seq(port_page):
    got = port_page.evaluate("""() => {
      const state = new window.advm.ViewState();
      state.apply({n: 1}, 3);
      state.apply({n: 2}, 7);
      try { state.apply({n: 3}, 7); } catch (e) { return `${e.name}: ${e.message}`; }
      return "accepted";
    }""")
    assert got == "DeltaError: frame seq 7 after seq 7: repeated or reordered"



# --- what the page needs from the server, checked without a browser ----------


def test_space_reflect_describes_the_channels_and_messages_clients_may_send():
    from server_kit import run

    from advm.net.client import ClientError

    approval = (EXAMPLES / "approval.adb").read_text()

    async def scenario(kit):
        async with kit.serve(approval) as srv:
            client = await kit.client(srv, "alice")
            got = (await client.request("space/reflect", identity=client.identity))["reflection"]
            assert got["constructor"] == "Request"
            assert got["channels"]["withdraw"] == {"message": "Withdraw", "array": False,
                                                   "complete": True}
            assert got["channels"]["manager_decision"]["complete"] is False
            assert got["messages"]["Request"]["fields"][1] == {"name": "amount", "type": "long"}
            assert set(got["messages"]) == {"Request", "Decision", "Withdraw"}
            assert got["enums"]["Status"][:2] == ["Pending", "Escalated"]
            # Document fields and records are the document's business.
            assert set(got) == {"channels", "messages", "enums", "constructor"}
            try:
                await client.request("space/reflect", identity="advm1.not.signed")
            except ClientError as e:
                assert e.reason == "bad_token"
            else:
                raise AssertionError("a bad token was accepted")

    # On a thread of its own: Playwright's sync API keeps an event loop
    # running on this one while the module's browser is open.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(run, scenario).result()


def test_whoami_names_the_guest_and_mint_is_for_development_servers_only():
    from server_kit import run

    from advm.net.client import ClientError

    async def scenario(kit):
        async with kit.serve("public int x;") as srv:
            guest = await kit.client(srv, identity="anonymous")
            me = await guest.request("identity/whoami", identity="anonymous")
            assert me["anonymous"] is True and me["authority"] == "anonymous"
            assert me["principal"] == f"{me['agent']}@anonymous"
            assert me["agent"].startswith("guest-")
            # One socket, one guest: asking again gives the same name.
            assert (await guest.request("identity/whoami", identity="anonymous")) == me
            other = await kit.client(srv, identity="anonymous")
            assert (await other.request("identity/whoami", identity="anonymous"))["principal"] != me["principal"]
            alice = await kit.client(srv, "alice")
            assert (await alice.request("identity/whoami", identity=alice.identity)) == {
                "principal": "alice@", "agent": "alice", "authority": "", "anonymous": False}
            try:
                await guest.request("identity/mint", principal="alice")
            except ClientError as e:
                assert e.reason == "mint_refused" and "advm token" in e.message
            else:
                raise AssertionError("a server without dev_tokens minted a token")
        async with kit.serve("public int x;", dev_tokens=True) as srv:
            guest = await kit.client(srv, identity="anonymous")
            minted = await guest.request("identity/mint", principal="bob@team")
            assert minted["principal"] == "bob@team"
            assert kit.tokens.verify(minted["identity"]) == "bob@team"
            for bad in ("x@anonymous", "@team"):
                try:
                    await guest.request("identity/mint", principal=bad)
                except ClientError as e:
                    assert e.reason == "bad_request"
                else:
                    raise AssertionError(f"minted {bad!r}")

    with ThreadPoolExecutor(1) as pool:
        pool.submit(run, scenario).result()


def test_the_server_serves_the_page_its_script_and_nothing_outside_it(server):
    import urllib.error
    import urllib.request

    def get(path):
        try:
            with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=5) as r:
                return r.status, r.headers.get("Content-Type"), r.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, None, b""

    status, kind, body = get("/")
    assert status == 200 and kind.startswith("text/html") and b'src="app.js"' in body
    status, kind, body = get("/app.js")
    assert status == 200 and "javascript" in kind and b'from "/advm/index.js"' in body
    # The JavaScript client (clients/js/), which the page imports, is served
    # at /advm/: its modules only, not its tests.
    status, kind, body = get("/advm/delta.js")
    assert status == 200 and "javascript" in kind and b"export function applyDelta" in body
    assert get("/advm/index.js")[0] == 200
    assert get("/advm/test/kit.js")[0] == 404
    assert get("/advm/package.json")[0] == 404
    assert get("/style.css")[:2] == (200, "text/css")
    assert get("/../server.py")[0] == 404
    assert get("/%2e%2e/server.py")[0] == 404
