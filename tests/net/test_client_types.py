"""`advm types DOC --lang ts|py` (spec/protocol.md 8.19): a client typed against
one version of a document type-checks, and the same client fails to against a
version whose channels, asks or view changed incompatibly: tsc --strict for the
JavaScript client's declarations (clients/js/index.d.ts), mypy --strict for the
Python client (advm.net.client), whose typed connection also runs against a
server on 127.0.0.1.

tsc comes from Debian's `node-typescript` (skipped without it, failed under
CI=true, as tests/net/test_js_types.py); mypy from the test extras.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from advm.commands.base import ExitCode
from conftest import ROOT

JS = ROOT / "clients" / "js"

V1 = """
@static { create { return true; } }
@connected { return true; }
enum Side { Left, Right }
message Move { int x; int y; string note; }
message Pick { Side side; }
message Start { string title; }
record Cell { public int id; public int x; public int y; private string secret; }
public string title;
public long total;
public Side last = Side::Left;
public maybe<int> best;
table<Cell> _cells;
public formula cells = iterate _cells;
channel<Pick> pick;
@construct (Start s) { title = s.title; }
channel move(Move m) { _cells <- {x: m.x, y: m.y}; total += 1; }
#choose { last = pick.fetch(@no_one).await().side; }
"""

# Incompatible in each part a client uses: a message field changes type (x),
# a channel is renamed (move -> place), an ask's message gains a case, and a
# view member is gone (total) while another changes type (title).
V2 = (V1.replace("message Move { int x;", "message Move { string x;")
      .replace("channel move(Move m) { _cells <- {x: m.x,", "channel place(Move m) { _cells <- {x: 0,")
      .replace("public long total;", "").replace("total += 1;", "")
      .replace("public string title;", "public int title;").replace("title = s.title;", "title = 1;"))

TS_USAGE = """
import { Client, Connection } from "{client}";
import type { DocView, DocChannels, DocAsks, Move, Cell } from "./doc_types";

export async function play(client: Client, key: string): Promise<number> {
  const c: Connection<DocView, DocChannels, DocAsks> = await client.open<DocView, DocChannels, DocAsks>(key);
  const m: Move = { x: 1, y: 2 };
  await c.send("move", m);
  await c.answer(c.outstanding[0], { side: "Right" });
  const title: string = c.view.title;
  const total: string = c.view.total;
  const cells: Cell[] = c.view.cells ?? [];
  return title.length + total.length + cells.map((cell) => cell.x + cell.y).length;
}
"""

PY_USAGE = """
from doc_types import DocView, Move, typed


async def play(raw: object) -> int:
    c = typed(raw)
    m: Move = {"x": 1, "y": 2}
    await c.send("move", m)
    await c.answer(1, {"side": "Right"})
    view: DocView = c.view
    title: str = view["title"]
    total: str = view["total"]
    return len(title) + len(total) + sum(cell["x"] + cell["y"] for cell in view.get("cells", []))
"""


@pytest.fixture
def write(tmp_path):
    def put(name: str, text: str):
        path = tmp_path / "docs" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return put


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        reason = f"no {name} (apt-get install {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must check the generated declarations: {reason}")
        pytest.skip(reason)
    return path


def types_of(cli, write, source: str, lang: str, out) -> None:
    doc = write("doc.adb", source)
    r = cli("types", doc, "--lang", lang, "-o", str(out))
    assert r.code == ExitCode.OK, r.err


def tsc(folder) -> subprocess.CompletedProcess:
    return subprocess.run([_tool("tsc", "node-typescript"), "--noEmit", "--strict", "--target", "es2022",
                           "--module", "es2022", "--moduleResolution", "node", "usage.ts"],
                          cwd=folder, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def mypy(folder) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir",
                           str(folder / ".mypy_cache"), "usage.py", "doc_types.py"],
                          cwd=folder, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def test_typescript_a_client_checks_against_its_version_and_not_another(cli, write, tmp_path):
    (tmp_path / "usage.ts").write_text(TS_USAGE.replace("{client}", (JS / "index.js").as_posix()), encoding="utf-8")
    types_of(cli, write, V1, "ts", tmp_path / "doc_types.d.ts")
    r = tsc(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    types_of(cli, write, V2, "ts", tmp_path / "doc_types.d.ts")
    r = tsc(tmp_path)
    errors = r.stdout
    assert r.returncode != 0
    # each incompatible change is caught where the client meets it
    assert re.search(r"usage\.ts\(7,.*'number' is not assignable to type 'string'", errors), errors  # Move.x
    assert re.search(r"usage\.ts\(8,.*\"move\"", errors), errors  # the channel is gone
    assert re.search(r"usage\.ts\(10,.*'number' is not assignable to type 'string'", errors), errors  # title
    assert re.search(r"usage\.ts\(11,.*'total' does not exist", errors), errors


def test_typescript_the_default_connection_still_takes_any_channel(tmp_path):
    (tmp_path / "usage.ts").write_text(
        f'import {{ Client }} from "{(JS / "index.js").as_posix()}";\n'
        'export async function f(c: Client): Promise<void> {\n'
        '  const conn = await c.open("k");\n'
        '  await conn.send("anything", { any: [1, "json"] });\n'
        '  await conn.answer(1, { yes: true });\n'
        '}\n', encoding="utf-8")
    r = tsc(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_python_a_client_checks_against_its_version_and_not_another(cli, write, tmp_path):
    (tmp_path / "usage.py").write_text(PY_USAGE, encoding="utf-8")
    types_of(cli, write, V1, "py", tmp_path / "doc_types.py")
    r = mypy(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    types_of(cli, write, V2, "py", tmp_path / "doc_types.py")
    r = mypy(tmp_path)
    errors = r.stdout
    assert r.returncode == 1, errors + r.stderr
    assert re.search(r'usage\.py:7: error: Incompatible types.*"x" has type "str"', errors), errors
    assert re.search(r'usage\.py:8: error: .*"send".*"Literal\[\'move\'\]"', errors), errors
    assert re.search(r'usage\.py:11: error: Incompatible types in assignment \(expression has type "int"', errors), errors
    assert re.search(r'usage\.py:12: error: TypedDict "DocView" has no key "total"', errors), errors


def test_python_the_typed_connection_is_the_client_at_run_time(cli, write, tmp_path):
    from server_kit import run

    types_of(cli, write, V1, "py", tmp_path / "doc_types.py")
    sys.path.insert(0, str(tmp_path))
    try:
        import doc_types
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("doc_types", None)

    async def scenario(kit):
        async with kit.serve(V1) as srv:
            client = await kit.client(srv, "alice")
            await client.create("d", {"title": "t"})
            conn = await client.open("d")
            c = doc_types.typed(conn)  # what a typed client holds: the connection itself
            assert c is conn
            await c.send("move", {"x": 1, "y": 2})
            await conn.wait_for(lambda x: "cells" in x.view)
            return dict(c.view)

    view = run(scenario)
    assert view["title"] == "t" and view["total"] == "1" and view["last"] == "Left"
    assert [(cell["x"], cell["y"]) for cell in view["cells"]] == [(1, 2)] and "secret" not in view["cells"][0]


def test_the_command_reads_modules_and_refuses_what_it_cannot(cli, write, tmp_path, monkeypatch):
    monkeypatch.chdir(write("doc.adb", V1).parent)
    assert cli("compile", "doc.adb").code == ExitCode.OK
    from_source, from_module = cli("types", "doc.adb", "--lang", "ts"), cli("types", "doc.advc", "--lang", "ts")
    assert from_source.code == from_module.code == ExitCode.OK
    assert from_module.out == from_source.out.replace("doc.adb", "doc.advc")
    assert "export interface DocView {" in from_source.out and "  total: string;" in from_source.out
    assert "export interface BoardView {" in cli("types", "doc.adb", "--lang", "ts", "--name", "Board").out
    assert cli("types", "doc.adb").code == ExitCode.USAGE  # --lang is required
    assert cli("types", "doc.adb", "--lang", "ts", "--name", "no-dash").code == ExitCode.USAGE
    assert cli("types", write("bad.adb", "public int x = \"no\";\n"), "--lang", "py").code == ExitCode.FAILURE
