"""`advm lsp`: the language server driven over stdio with real LSP JSON-RPC messages."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from queue import Empty, Queue

import pytest

DOC = """\
record Card {
  public int rank;
  public string suit;
}
message Play {
  int rank;
}
table<Card> _cards;
public int total;
public formula count = _cards.size();

channel play(Play p) {
  int doubled = p.rank * 2;
  total += doubled;
  transition #done;
}

function twice(int x) -> int {
  return x + x;
}

#done {
  total = twice(total);
  _cards <- {rank: 1, suit: "hearts"};
}

channel<Play> pick;
public principal dealer;

#ask {
  future<Play> f = pick.fetch(dealer);
  Play got = f.await();
  total = got.rank;
}
"""

BROKEN = DOC.replace("total += doubled;", "total += p.nmae;")


class Server:
    """`python -m advm lsp` as a subprocess, spoken to with Content-Length framed JSON-RPC."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "advm", "lsp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.messages: Queue = Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.messages.put(json.loads(out.read(length)))

    def send(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait_for(self, match):
        while True:
            try:
                msg = self.messages.get(timeout=60)
            except Empty:
                raise AssertionError("the server said nothing more") from None
            if match(msg):
                return msg

    def request(self, method: str, params: dict):
        self.next_id += 1
        rid = self.next_id
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        msg = self.wait_for(lambda m: m.get("id") == rid and "method" not in m)
        assert "error" not in msg, msg
        return msg["result"]

    def diagnostics(self, uri: str):
        return self.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                             and m["params"]["uri"] == uri)["params"]

    def close(self):
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.stdout.close()
            self.proc.stderr.close()
            self.proc.stdin.close()


@pytest.fixture
def server(tmp_path):
    s = Server()
    result = s.request("initialize", {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}})
    caps = result["capabilities"]
    assert caps["hoverProvider"] and caps["definitionProvider"] and caps["documentFormattingProvider"]
    s.notify("initialized", {})
    yield s
    s.close()


def position(text: str, needle: str, nth: int = 0, delta: int = 0) -> dict:
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    offset += delta
    line = text.count("\n", 0, offset)
    return {"line": line, "character": offset - (text.rfind("\n", 0, offset) + 1)}


def open_doc(server, uri, text, version=1):
    server.notify("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "adama", "version": version, "text": text}})


def test_diagnostics_as_you_type(server, tmp_path):
    uri = (tmp_path / "doc.adb").as_uri()
    open_doc(server, uri, BROKEN)
    diags = server.diagnostics(uri)["diagnostics"]
    assert sorted((d["code"], d["severity"]) for d in diags) == [("E0203", 1), ("W0510", 2), ("W0511", 2)]
    diags = [d for d in diags if d["severity"] == 1]
    start = position(BROKEN, "nmae")
    assert diags[0]["range"] == {"start": start, "end": {**start, "character": start["character"] + 4}}
    assert "nmae" in diags[0]["message"]

    # fixed: no more errors; the warnings of `advm check` (nobody can connect) are there
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                             "contentChanges": [{"text": DOC}]})
    diags = server.diagnostics(uri)["diagnostics"]
    assert diags and all(d["severity"] == 2 for d in diags)
    assert {d["code"] for d in diags} == {"W0510", "W0511"}

    # a syntax error, with its range
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3},
                                             "contentChanges": [{"text": "int x = ;\n"}]})
    diags = server.diagnostics(uri)["diagnostics"]
    assert diags[0]["code"] == "E0101"
    assert diags[0]["range"]["start"] == {"line": 0, "character": 8}


def test_hover_shows_types(server, tmp_path):
    uri = (tmp_path / "doc.adb").as_uri()
    open_doc(server, uri, DOC)
    server.diagnostics(uri)

    def hover(needle, nth=0, delta=0):
        result = server.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                       "position": position(DOC, needle, nth, delta)})
        return result["contents"]["value"] if result else None

    assert "doubled: int" in hover("doubled", nth=1)  # a local where it is used
    assert "p.rank: int" in hover("rank * 2")  # a message's field through its parameter
    assert "(field) total: int" in hover("total", nth=0)  # the declaration
    assert "(formula) count: int" in hover("count")
    assert "function twice(int x) -> int" in hover("twice(int")
    assert "twice(total): int" in hover("twice(total)")
    assert "state #done" in hover("#done", nth=1)
    assert "(channel) pick: channel<Play>" in hover("pick.fetch")
    assert "f: future<Play>" in hover("f.await")
    assert hover("\n\n", 0) is None  # nothing there


def test_go_to_definition(server, tmp_path):
    uri = (tmp_path / "doc.adb").as_uri()
    open_doc(server, uri, DOC)
    server.diagnostics(uri)

    def definition(needle, nth=0, delta=0):
        result = server.request("textDocument/definition", {"textDocument": {"uri": uri},
                                                            "position": position(DOC, needle, nth, delta)})
        if result is None:
            return None
        assert result["uri"] == uri
        return result["range"]["start"]

    assert definition("total", nth=1) == position(DOC, "total", 0)  # a document field
    assert definition("doubled", nth=1) == position(DOC, "doubled", 0)  # a local
    assert definition("rank * 2") == position(DOC, "rank", 1)  # a message field
    assert definition("Card>") == position(DOC, "Card")  # a record, from a type
    assert definition("Play p") == position(DOC, "Play")  # a message
    assert definition("#done;") == position(DOC, "#done {")  # a state
    assert definition("twice(total)") == position(DOC, "twice")  # a function
    assert definition("rank: 1") == position(DOC, "rank")  # a record's field in an object
    assert definition("pick.fetch") == position(DOC, "pick;")  # a channel
    assert definition("got.rank", delta=4) == position(DOC, "rank", 1)
    assert definition("{\n  int doubled") is None


def test_formatting(server, tmp_path):
    uri = (tmp_path / "doc.adb").as_uri()
    text = "int   x ;\n"
    open_doc(server, uri, text)
    server.diagnostics(uri)
    edits = server.request("textDocument/formatting", {"textDocument": {"uri": uri},
                                                       "options": {"tabSize": 2, "insertSpaces": True}})
    assert edits == [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}},
                      "newText": "int x;\n"}]
