"""Module container: CBOR round trip, identity, and clear errors on bad input."""
from __future__ import annotations

import zlib

import cbor2
import pytest

from advm.vm.assembler import ModuleAsm
from advm.vm.errors import ModuleFormatError
from advm.vm.module import FORMAT_VERSION, HEADER_SIZE, MAGIC, Module


def sample() -> Module:
    m = ModuleAsm("game.adb", source_hash="ab" * 16)
    m.record("Player", ["name", "score", "items"], "oio", ["", 0, []])
    m.document = m.record("Doc", ["turn"], "i", [0])
    m.host("Math.sqrt", "d", "d")
    m.meta = {"channels": [["move", 0]], "states": ["setup"]}
    f = m.function("f", "idob", "d")
    f.pos = (4, 2)
    f.emit("DADDK", 0, 0, 1.5)
    f.emit("OLOADK", 1, "héllo")
    f.emit("ILOADK", 2, -(2**63))
    f.emit("CALLHOST", 0, "Math.sqrt")
    f.emit("DRET", 0)
    g = m.function("g", "", "")
    g.emit("RET")
    return m.assemble()


def container(payload: bytes, version=FORMAT_VERSION) -> bytes:
    return (MAGIC + version.to_bytes(2, "big") + zlib.crc32(payload).to_bytes(4, "big")
            + len(payload).to_bytes(4, "big") + payload)


def test_round_trip_is_exact():
    m = sample()
    data = m.to_bytes()
    assert data[:4] == MAGIC
    back = Module.from_bytes(data)
    assert back == m
    assert back.to_bytes() == data


def test_module_id_is_stable_and_follows_the_code():
    assert sample().module_id() == sample().module_id()
    changed = sample()
    changed.functions[0].code[0] ^= 1 << 8
    assert changed.module_id() != sample().module_id()


def test_file_round_trip(tmp_path):
    path = tmp_path / "game.advc"
    sample().write(path)
    assert Module.read(path) == sample()


def test_every_truncation_is_reported():
    data = sample().to_bytes()
    for n in range(len(data)):
        with pytest.raises(ModuleFormatError) as info:
            Module.from_bytes(data[:n])
        text = str(info.value)
        assert "truncated" in text or "not an advm module" in text, (n, text)


def test_truncated_file_error_names_the_file(tmp_path):
    path = tmp_path / "cut.advc"
    path.write_bytes(sample().to_bytes()[:40])
    with pytest.raises(ModuleFormatError, match=r"cut\.advc: truncated module: header announces"):
        Module.read(path)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: b"PK\x03\x04" + d[4:], r"not an advm module \(magic b'PK\\x03\\x04'"),
    (lambda d: d[:4] + (FORMAT_VERSION + 1).to_bytes(2, "big") + d[6:], "format version 2, this advm reads version 1"),
    (lambda d: d[:-1] + bytes([d[-1] ^ 0xFF]), "checksum mismatch"),
    (lambda d: d + b"\x00", "1 bytes after the payload"),
    (lambda d: container(b"\xff\xff"), "bad CBOR payload"),
    (lambda d: container(cbor2.dumps([1, 2])), "payload is not a map"),
    (lambda d: container(cbor2.dumps({"functions": []})), "module has no 'records'"),
    (lambda d: b"", "not an advm module"),
])
def test_bad_input_errors(mutate, message):
    with pytest.raises(ModuleFormatError, match=message):
        Module.from_bytes(mutate(sample().to_bytes()))


def test_shape_errors_inside_the_payload():
    good = cbor2.loads(sample().to_bytes()[HEADER_SIZE:])
    good["functions"][0]["code"] = b"\x00\x01\x02"
    with pytest.raises(ModuleFormatError, match="not a multiple of 4"):
        Module.from_bytes(container(cbor2.dumps(good)))
    good = cbor2.loads(sample().to_bytes()[HEADER_SIZE:])
    good["functions"][0]["lines"] = []
    with pytest.raises(ModuleFormatError, match="position table does not match"):
        Module.from_bytes(container(cbor2.dumps(good)))
    good = cbor2.loads(sample().to_bytes()[HEADER_SIZE:])
    good["functions"][0]["nregs"] = "abc"
    with pytest.raises(ModuleFormatError, match="nregs should be list"):
        Module.from_bytes(container(cbor2.dumps(good)))
    good = cbor2.loads(sample().to_bytes()[HEADER_SIZE:])
    good["hosts"] = [["Math.sqrt", "q", "d"]]
    with pytest.raises(ModuleFormatError, match="host import 0"):
        Module.from_bytes(container(cbor2.dumps(good)))
