"""`advm compile` and `advm disasm`, and what every command does with a module
file that is truncated, corrupt or of another format version."""
from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import cbor2
import pytest

from advm.cli import ExitCode
from advm.compiler.build import build_source
from advm.vm import opcodes as O
from advm.vm.module import FORMAT_VERSION, HEADER_SIZE, MAGIC, Module

ROOT = Path(__file__).resolve().parents[2]
TODO = ROOT / "examples" / "todo.adb"
# How a listing shows todo.adb's `return text.trim();` (found by content, so edits to
# the example do not break the tests).
TRIM_SOURCE_LINE = "    ; {:4d} |   return text.trim();".format(next(
    i for i, text in enumerate(TODO.read_text(encoding="utf-8").splitlines(), 1)
    if text.strip() == "return text.trim();"))

SMALL = """\
public int count = 2;

function twice(int n) -> int {
  return n * 2;
}

@construct {
  count = twice(count) + 1;
}

test counts {
  assert (twice(3) == 6);
}
"""

# Hooks after the mistake, so that `advm check` (which also looks for who can
# connect and create) reports exactly the errors `advm compile` does.
BAD = """\
public int count = "three";
@static {
  create {
    return true;
  }
}
@connected {
  return true;
}
"""

# A source line of a listing: `    ;   76 |   return text.trim();`
SOURCE_LINE = re.compile(r"^    ; +(\d+) \| (.*)$")
# An instruction line: pc, line:col, opcode name.
INSTRUCTION = re.compile(r"^ +(\d+) +(\d+):(\d+) +([A-Z][A-Z0-9]*)\b")


@pytest.fixture
def write(tmp_path):
    def go(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return go


@pytest.fixture(scope="module")
def todo_module_bytes() -> bytes:
    return build_source(TODO.read_text(encoding="utf-8"), "todo.adb").to_bytes()


def reframe(payload: bytes, version: int = FORMAT_VERSION) -> bytes:
    """A module file around `payload` with a correct checksum and length."""
    return (MAGIC + version.to_bytes(2, "big") + zlib.crc32(payload).to_bytes(4, "big")
            + len(payload).to_bytes(4, "big") + payload)


# ---------------------------------------------------------------- compile


def test_compile_writes_the_module_next_to_the_source(cli, write):
    src = write("small.adb", SMALL)
    r = cli("compile", src)
    out = src.with_suffix(".advc")
    assert r.code == ExitCode.OK, r.err
    assert r.out == ""
    blob = out.read_bytes()
    assert r.err == f"{src}: ok -> {out} ({len(blob)} bytes, {len(Module.from_bytes(blob).functions)} functions)\n"
    # The file is exactly what the compiler builds from that source and name.
    assert blob == build_source(SMALL, str(src)).to_bytes()
    assert sorted(p.name for p in src.parent.iterdir()) == ["small.adb", "small.advc"]


def test_compile_to_a_chosen_output_leaves_no_temporary_files(cli, write, tmp_path):
    src = write("small.adb", SMALL)
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "m.bin"
    r = cli("compile", src, "-o", target)
    assert r.code == ExitCode.OK, r.err
    assert Module.from_bytes(target.read_bytes()).filename == str(src)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["m.bin", "small.adb"]


def test_compile_replaces_an_older_module(cli, write):
    src = write("small.adb", SMALL)
    out = write("small.advc", b"stale")
    assert cli("compile", src).code == ExitCode.OK
    assert out.read_bytes().startswith(MAGIC)


def test_compile_errors_render_as_check_does_and_write_nothing(cli, write):
    src = write("bad.adb", BAD)
    compiled = cli("compile", src)
    checked = cli("check", src)
    assert compiled.code == checked.code == ExitCode.FAILURE
    assert compiled.err == checked.err
    assert "error[E0301]" in compiled.err and compiled.err.endswith(f"{src}: 1 error\n")
    assert not src.with_suffix(".advc").exists()


def test_compile_json(cli, write):
    src = write("small.adb", SMALL)
    r = cli("compile", src, "--json")
    assert (r.code, r.err) == (ExitCode.OK, "")
    doc = json.loads(r.out)
    out = src.with_suffix(".advc")
    assert doc == {"filename": str(src), "ok": True, "diagnostics": [], "output": str(out),
                   "bytes": out.stat().st_size, "functions": len(Module.read(out).functions)}


def test_compile_json_failure_lists_the_diagnostics(cli, write):
    src = write("bad.adb", BAD)
    r = cli("compile", src, "--json")
    assert (r.code, r.err) == (ExitCode.FAILURE, "")
    doc = json.loads(r.out)
    assert (doc["filename"], doc["ok"]) == (str(src), False)
    assert [(d["code"], d["location"]) for d in doc["diagnostics"]] == [("E0301", {"row": 1, "column": 20})]


def test_compile_refuses_a_module_and_its_own_source_as_output(cli, write, todo_module_bytes):
    mod = write("m.advc", todo_module_bytes)
    r = cli("compile", mod)
    assert r.code == ExitCode.USAGE
    assert r.err == f"advm: error: {mod}: is already a compiled module; compile its .adb source\n"
    src = write("small.adb", SMALL)
    r = cli("compile", src, "-o", src)
    assert r.code == ExitCode.USAGE and "would overwrite the source" in r.err
    assert src.read_text() == SMALL


def test_compile_into_a_missing_folder_is_a_usage_error(cli, write, tmp_path):
    src = write("small.adb", SMALL)
    r = cli("compile", src, "-o", tmp_path / "no" / "such" / "m.advc")
    assert r.code == ExitCode.USAGE
    assert r.err.startswith(f"advm: error: {tmp_path / 'no' / 'such' / 'm.advc'}: cannot write")


def test_compile_missing_file(cli, tmp_path):
    r = cli("compile", tmp_path / "nope.adb")
    assert (r.code, r.err) == (ExitCode.USAGE, f"advm: error: {tmp_path / 'nope.adb'}: no such file\n")


def test_compile_every_example(cli, tmp_path, examples):
    for example in (p for p in examples if p.parent.name == "examples"):
        out = tmp_path / example.with_suffix(".advc").name
        r = cli("compile", example, "-o", out)
        assert r.code == ExitCode.OK, r.err
        assert Module.read(out).source_hash


def test_compile_as_a_program(advm_proc, write):
    src = write("small.adb", SMALL)
    r = advm_proc("compile", src.name, cwd=src.parent)
    assert r.code == ExitCode.OK, r.err
    assert r.err.startswith("small.adb: ok -> small.advc (")
    assert Module.read(src.with_suffix(".advc")).filename == "small.adb"


# ---------------------------------------------------------------- disasm


def listing_facts(text: str) -> tuple[list[tuple[int, str]], list[str]]:
    sources = [(int(m[1]), m[2]) for m in map(SOURCE_LINE.match, text.splitlines()) if m]
    ops = [m[4] for m in map(INSTRUCTION.match, text.splitlines()) if m]
    return sources, ops


def test_disasm_interleaves_source_lines_and_opcode_names(cli):
    r = cli("disasm", TODO)
    assert (r.code, r.err) == (ExitCode.OK, "")
    lines = TODO.read_text(encoding="utf-8").splitlines()
    sources, ops = listing_facts(r.out)
    assert r.out.startswith(f"module {TODO}  (")
    # Every interleaved line is the document's own line with that number.
    assert sources and all(lines[n - 1].rstrip() == text for n, text in sources)
    assert TRIM_SOURCE_LINE in r.out.splitlines()
    assert ops and set(ops) <= set(O.BY_NAME)
    assert {"CALLHOST", "FAIL", "RET"} <= set(ops)
    assert "function channel.create(o) -> void" in r.out


def test_disasm_of_the_module_equals_disasm_of_the_source(cli, write, tmp_path):
    src = write("small.adb", SMALL)
    assert cli("compile", src).code == ExitCode.OK
    from_source, from_module = cli("disasm", src), cli("disasm", src.with_suffix(".advc"))
    assert from_module.code == ExitCode.OK and from_module.err == ""
    assert from_module.out == from_source.out
    assert "    ;    4 |   return n * 2;" in from_module.out


def test_disasm_of_a_module_without_its_source_shows_positions_only(cli, write, tmp_path, monkeypatch):
    src = write("src/small.adb", SMALL)
    monkeypatch.chdir(src.parent)
    assert cli("compile", "small.adb", "-o", tmp_path / "elsewhere.advc").code == ExitCode.OK
    monkeypatch.chdir(tmp_path)  # neither the recorded path nor a sibling holds the source
    with_source = cli("disasm", src).out
    r = cli("disasm", "elsewhere.advc")
    assert r.code == ExitCode.OK
    assert r.err == ("advm: note: the source of elsewhere.advc (small.adb) is not beside it "
                     "or has changed since it was compiled; positions only\n")
    sources, ops = listing_facts(r.out)
    assert sources == [] and ops == listing_facts(with_source)[1]
    assert r.out.startswith("module small.adb  (")
    # Same instructions at the same line:col, only the source lines are gone.
    assert r.out.splitlines() == [line for line in with_source.replace(str(src), "small.adb").splitlines()
                                  if not SOURCE_LINE.match(line)]


def test_disasm_ignores_a_source_that_changed_since_compiling(cli, write):
    src = write("small.adb", SMALL)
    assert cli("compile", src).code == ExitCode.OK
    src.write_text(SMALL.replace("n * 2", "n + n"), encoding="utf-8")
    r = cli("disasm", src.with_suffix(".advc"))
    assert r.code == ExitCode.OK and "positions only" in r.err
    assert "n + n" not in r.out and listing_facts(r.out)[0] == []


def test_disasm_one_function(cli):
    r = cli("disasm", TODO, "--function", "fn.clean")
    assert r.code == ExitCode.OK
    assert r.out.splitlines()[0].startswith("function fn.clean(o) -> o ")
    assert "function fn.acceptable" not in r.out
    assert TRIM_SOURCE_LINE in r.out


def test_disasm_unknown_function_is_a_failure(cli):
    r = cli("disasm", TODO, "--function", "fn.nope")
    assert r.code == ExitCode.FAILURE
    assert r.err.startswith(f"advm: error: {TODO}: no function 'fn.nope' (the module has: $init, fn.clean,")


def test_disasm_json_matches_the_text_listing(cli):
    text = cli("disasm", TODO, "--function", "fn.acceptable").out
    r = cli("disasm", TODO, "--json", "--function", "fn.acceptable")
    assert (r.code, r.err) == (ExitCode.OK, "")
    doc = json.loads(r.out)
    assert (doc["filename"], doc["source"], doc["source_lines"]) == (str(TODO), str(TODO), True)
    (fn,) = doc["functions"]
    assert (fn["name"], fn["params"], fn["result"]) == ("fn.acceptable", ["o"], "b")
    lines = TODO.read_text(encoding="utf-8").splitlines()
    rows = [line for line in text.splitlines() if INSTRUCTION.match(line)]
    assert len(rows) == len(fn["code"])
    for item, row in zip(fn["code"], rows):
        assert item["op"] in O.BY_NAME
        assert item["source"] == lines[item["line"] - 1]
        m = INSTRUCTION.match(row)
        assert (int(m[1]), int(m[2]), int(m[3]), m[4]) == (item["pc"], item["line"], item["col"], item["op"])
        rendered = " ".join(o["text"] for o in item["operands"])
        assert row.split(";")[0].rstrip().endswith(rendered)
        assert item["semantics"] == O.BY_NAME[item["op"]].sem


def test_disasm_json_of_a_whole_module(cli, write, todo_module_bytes):
    r = cli("disasm", write("lonely/todo.advc", todo_module_bytes), "--json")
    assert r.code == ExitCode.OK
    doc = json.loads(r.out)
    assert doc["source_lines"] is False
    assert {f["name"] for f in doc["functions"]} >= {"$init", "channel.create", "test.clean_trims"}
    assert all("source" not in item for f in doc["functions"] for item in f["code"])
    assert {r["name"] for r in doc["records"]} >= {"record.Todo", "message.CreateTodo"}


def test_disasm_of_a_document_with_errors(cli, write):
    r = cli("disasm", write("bad.adb", BAD))
    assert r.code == ExitCode.FAILURE and r.out == ""
    assert "error[E0301]" in r.err


def test_disasm_as_a_program(advm_proc):
    r = advm_proc("disasm", "examples/todo.adb", "--function", "fn.clean")
    assert r.code == ExitCode.OK, r.err
    assert TRIM_SOURCE_LINE in r.out and "CALLHOST" in r.out


# ---------------------------------------------------------------- bad module files


MODULE_ERROR = re.compile(
    r"^advm: error: \S+\.advc: (truncated module: .+|not an advm module .+|corrupt module: .+"
    r"|module format version \d+, this advm reads version \d+; recompile the document)\n$"
)


def assert_clear_module_error(r, command: str = "run"):
    assert r.code == ExitCode.FAILURE, (r.code, r.err)
    assert "Traceback" not in r.err and "internal error" not in r.err
    assert MODULE_ERROR.match(r.err), r.err
    # `advm test` still closes with its count line; nothing else reaches stdout.
    assert r.out == ("0 passed, 0 failed, 1 file not run\n" if command == "test" else "")


def cut_lengths(size: int) -> list[int]:
    # Every length through the header and into the payload, then a spread
    # across the rest, always including the last byte missing.
    head = list(range(0, HEADER_SIZE + 8))
    spread = list(range(HEADER_SIZE + 8, size, max(1, size // 40)))
    return head + spread + [size - 1]


@pytest.mark.parametrize("command", ["run", "disasm", "test"])
def test_truncated_modules_give_a_clear_error(cli, write, todo_module_bytes, command):
    path = write("todo.advc", b"")
    for n in cut_lengths(len(todo_module_bytes)):
        path.write_bytes(todo_module_bytes[:n])
        r = cli(command, path)
        assert_clear_module_error(r, command)
        if n == 0:
            assert "not an advm module (bad magic)" in r.err
        elif n < HEADER_SIZE:
            assert f"truncated module: {n} bytes, the header alone is {HEADER_SIZE}" in r.err
        else:
            assert f"header announces {len(todo_module_bytes) - HEADER_SIZE} payload bytes, found {n - HEADER_SIZE}" in r.err


def test_every_truncation_is_caught_by_the_loader(todo_module_bytes):
    """All lengths, straight through the loader the commands share (after the
    file is read, so no disk round trip per length)."""
    from advm.commands.base import Failure
    from advm.commands.program import load_module

    for n in range(len(todo_module_bytes)):
        with pytest.raises(Failure) as caught:
            load_module("todo.advc", todo_module_bytes[:n])
        assert MODULE_ERROR.match(caught.value.text + "\n"), (n, caught.value.text)
        assert caught.value.data["error"]["kind"] == "module"


def test_flipped_bytes_give_a_clear_error(cli, write, todo_module_bytes):
    path = write("todo.advc", b"")
    positions = list(range(HEADER_SIZE)) + list(range(HEADER_SIZE, len(todo_module_bytes), 97))
    for i in positions:
        damaged = bytearray(todo_module_bytes)
        damaged[i] ^= 0x5A
        path.write_bytes(bytes(damaged))
        r = cli("run", path)
        assert_clear_module_error(r)
        if i < 4:
            assert "not an advm module" in r.err
        elif i < 6:
            assert "module format version" in r.err
        elif i >= HEADER_SIZE:
            assert "corrupt module: payload checksum mismatch" in r.err


def test_module_of_another_format_version(cli, write, todo_module_bytes):
    future = reframe(todo_module_bytes[HEADER_SIZE:], FORMAT_VERSION + 1)
    r = cli("disasm", write("todo.advc", future))
    assert_clear_module_error(r)
    assert f"module format version {FORMAT_VERSION + 1}, this advm reads version {FORMAT_VERSION}" in r.err


def test_a_valid_container_with_a_broken_payload(cli, write, todo_module_bytes):
    payload = cbor2.loads(todo_module_bytes[HEADER_SIZE:])
    cases = {
        "list.advc": cbor2.dumps([1, 2, 3]),
        "nometa.advc": cbor2.dumps({**payload, "meta": {"init": "$init"}}),
        "badcode.advc": cbor2.dumps({**payload, "functions": [
            {**f, "code": b"\xff\xff\xff\xff" * (len(f["code"]) // 4)} for f in payload["functions"]]}),
        "notcbor.advc": b"\xff\x00garbage",
    }
    for name, body in cases.items():
        for command in ("run", "test"):
            r = cli(command, write(name, reframe(body)))
            assert_clear_module_error(r, command)
    # Only `advm test` reads the test table.
    gone = cbor2.dumps({**payload, "meta": {**payload["meta"], "tests": {"t": "test.gone"}}})
    r = cli("test", write("badtests.advc", reframe(gone)))
    assert_clear_module_error(r, "test")
    assert "corrupt module: its test table is broken" in r.err
    r = cli("run", "--once", write("list.advc", reframe(cbor2.dumps([1]))), "--json")
    assert r.code == ExitCode.FAILURE
    assert json.loads(r.out)["error"] == {"kind": "module", "message": "corrupt module: payload is not a map"}


def test_a_module_under_another_name_is_still_a_module(cli, write, todo_module_bytes):
    r = cli("run", "--once", write("todo.bin", todo_module_bytes), "--json")
    assert r.code == ExitCode.OK, r.err
    assert json.loads(r.out)["fields"]["title"] == "Todo"


def test_bad_module_as_a_program_has_no_traceback(advm_proc, write, todo_module_bytes):
    path = write("todo.advc", todo_module_bytes[:100])
    r = advm_proc("run", path)
    assert_clear_module_error(r)
