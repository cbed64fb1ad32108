"""A damaged store is refused before LMDB maps it (issue 10, point 11): a
data.mdb cut short used to kill `run`, `replay` and `snapshot inspect` with
SIGBUS, and zeroed meta pages made `run` exit 3. spec/store.md 9.

The commands run in child processes: on a build without the check, mapping
the cut file would kill the test runner itself."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from advm.store import DamagedStore, IncompatibleStore, Store
from advm.store.env import check_files

ROOT = Path(__file__).resolve().parents[2]
TICTACTOE = ROOT / "examples" / "tictactoe.adb"
SESSION = ROOT / "examples" / "sessions" / "tictactoe.jsonl"


def advm(*argv, cwd):
    proc = subprocess.run([sys.executable, "-m", "advm", *map(str, argv)], cwd=cwd,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    where = tmp_path_factory.mktemp("damaged")
    code, _, err = advm("run", TICTACTOE, "--script", SESSION, "--store", where / "st", cwd=where)
    assert code == 0, err
    return where / "st"


def _copy(healthy, tmp_path) -> Path:
    target = tmp_path / "st"
    target.mkdir()
    for name in ("data.mdb", "lock.mdb"):
        (target / name).write_bytes((healthy / name).read_bytes())
    return target


def cut_in_half(data: Path) -> str:
    size = data.stat().st_size
    with open(data, "r+b") as f:
        f.truncate(size // 2)
    return "cut short"


def zero_meta_pages(data: Path) -> str:
    with open(data, "r+b") as f:
        f.write(bytes(2 * 4096))
    return "not an LMDB meta page"


def zero_second_meta_page(data: Path) -> str:
    with open(data, "r+b") as f:
        f.seek(4096)
        f.write(bytes(4096))
    return "meta page 1 is not an LMDB meta page"


def cut_to_a_few_bytes(data: Path) -> str:
    with open(data, "r+b") as f:
        f.truncate(100)
    return "too short"


DAMAGE = [cut_in_half, zero_meta_pages, zero_second_meta_page, cut_to_a_few_bytes]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__)
def test_every_store_command_reports_a_damaged_store_and_exits_1(damage, healthy, tmp_path):
    store = _copy(healthy, tmp_path)
    what = damage(store / "data.mdb")
    for argv in (["replay", "--log", "--store", store],
                 ["snapshot", "inspect", "--store", store],
                 ["run", TICTACTOE, "--store", store, "--port", "0", "--workers", "0"],
                 ["run", TICTACTOE, "--script", SESSION, "--store", store]):
        code, _, err = advm(*argv, cwd=tmp_path)
        assert code == 1, (argv, code, err)
        assert "damaged store" in err and what in err and str(store / "data.mdb") in err, err
        assert "Traceback" not in err and "bug in advm" not in err, err
    code, out, _ = advm("replay", "--log", "--store", store, "--json", cwd=tmp_path)
    assert code == 1
    error = json.loads(out)["error"]
    assert error["kind"] == "DamagedStore" and what in error["message"]


def test_the_check_passes_a_healthy_store_after_every_commit(tmp_path):
    from advm.store import Entry

    with Store(tmp_path / "s", durability="relaxed") as s:
        for seq in range(1, 60):
            s.append("doc", Entry(seq, seq, "send", "alice", "say", {"text": "x" * 3000})).result()
            check_files(tmp_path / "s")
    with Store(tmp_path / "s", readonly=True) as s:
        assert s.last_seq("doc") == 59


def test_a_missing_or_empty_data_file_is_a_new_store(tmp_path):
    check_files(tmp_path / "nothing")
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "data.mdb").write_bytes(b"")
    check_files(tmp_path / "s")
    with Store(tmp_path / "s", durability="relaxed") as s:
        assert s.documents() == []


def test_damaged_store_is_a_store_this_advm_cannot_read(healthy, tmp_path):
    store = _copy(healthy, tmp_path)
    cut_in_half(store / "data.mdb")
    with pytest.raises(IncompatibleStore) as e:
        check_files(store)
    assert isinstance(e.value, DamagedStore)
    with pytest.raises(DamagedStore):
        Store(store, readonly=True)
