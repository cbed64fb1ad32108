"""The JavaScript client's React hook (clients/js/react.js) in Chromium: a
page of one's own renders a document with `useDocument`, renders again on
every change, shows a refusal, and ends the stream when it unmounts.

React comes from Debian's node-react and node-react-dom (their UMD builds,
under /usr/share/nodejs; ADVM_REACT_UMD names another such folder). Without
them the test skips, except under CI=true, where it fails: CI installs them
(.ci/run) and must run it.
"""
from __future__ import annotations

import asyncio
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_browser import browser  # noqa: F401 (a fixture)
from test_js_client import JS, ServedStatic, open_page_plain

from advm.net.client import Client

UMD = Path(os.environ.get("ADVM_REACT_UMD", "/usr/share/nodejs"))
BUILDS = {"react.development.js": UMD / "react" / "umd" / "react.development.js",
          "react-dom.development.js": UMD / "react-dom" / "umd" / "react-dom.development.js"}

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>react</title>
<link rel="icon" href="data:,">
<script src="/react.development.js"></script>
<script src="/react-dom.development.js"></script>
<script type="importmap">{"imports": {"react": "/react-module.js"}}</script>
<div id="root"></div>
<script type="module">
  import { Client } from "/advm/index.js";
  import { useDocument } from "/advm/react.js";

  const h = React.createElement;
  const client = await Client.connect(`ws://${location.host}/~s`);
  await client.mint("rita", { use: true });

  function Items({ docKey }) {
    const { doc, view, status, error } = useDocument(client, docKey);
    window.shown = doc;
    if (error) return h("p", { id: "state" }, `refused: ${error.reason}`);
    if (!view) return h("p", { id: "state" }, status);
    return h("div", null,
      h("p", { id: "state" }, `${status}, seq ${doc.seq}`),
      h("ol", { id: "items" }, view.items.map((row) => h("li", { key: row.id }, row.text))));
  }

  const root = ReactDOM.createRoot(document.getElementById("root"));
  window.show = (key) => root.render(key === null ? h("p", { id: "state" }, "unmounted")
                                                  : h(Items, { docKey: key }));
  window.show("r1");
</script>
"""

# React's UMD build as the module the hook imports ("react", by the import map).
REACT_MODULE = "const R = window.React;\nexport const { useEffect, useState } = R;\nexport default R;\n"


@pytest.fixture(scope="module")
def react_builds():
    missing = [str(p) for p in BUILDS.values() if not p.is_file()]
    if missing:
        reason = f"no React UMD build ({', '.join(missing)}): apt-get install node-react node-react-dom"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the React hook's test: {reason}")
        pytest.skip(reason)
    return BUILDS


def python_side(url: str, what: str, key: str, message=None) -> None:
    async def go():
        async with await Client.connect(url) as client:
            client.identity = (await client.request("identity/mint", principal="quinn"))["identity"]
            if what == "create":
                await client.create(key)
            else:
                await (await client.open(key)).send(what, message)

    asyncio.run(go())


def test_use_document_renders_the_view_and_ends_the_stream_on_unmount(browser, react_builds,  # noqa: F811
                                                                      tmp_path):
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text(PAGE, encoding="utf-8")
    (web / "react-module.js").write_text(REACT_MODULE, encoding="utf-8")
    for name, build in react_builds.items():
        shutil.copyfile(build, web / name)
    served = ServedStatic(tmp_path / "store", JS / "test" / "fixtures" / "board.adb", web)
    try:
        ws_url = served.url.replace("http://", "ws://").rstrip("/") + "/~s"
        with ThreadPoolExecutor(1) as pool:
            pool.submit(python_side, ws_url, "create", "r1").result()
            ctx, page, problems = open_page_plain(browser, served.url)
            try:
                state = page.locator("#state")
                page.wait_for_selector("#state:has-text('open, seq 1')")
                pool.submit(python_side, ws_url, "add", "r1", {"text": "one", "rank": 1}).result()
                page.wait_for_selector("#items li:has-text('one')")
                assert state.inner_text() == "open, seq 2"
                pool.submit(python_side, ws_url, "add", "r1", {"text": "zero", "rank": 0}).result()
                page.wait_for_selector("#items li:nth-child(1):has-text('zero')")
                assert page.locator("#items li").all_inner_texts() == ["zero", "one"]

                # Unmounting ends the stream.
                page.evaluate("() => { window.kept = window.shown; window.show(null); }")
                page.wait_for_function("() => window.kept.status === 'ended'")
                assert page.evaluate("() => window.kept.error") is None

                # A key that does not exist: the hook reports the failure.
                page.evaluate("() => window.show('nope')")
                page.wait_for_selector("#state:has-text('refused: not_found')")
                assert problems == []
            finally:
                ctx.close()
    finally:
        served.stop()
