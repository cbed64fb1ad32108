"""A gateway's placement (issue 18 point 5, spec/protocol.md 8.20): a new
document goes to the live host owning the fewest documents, counting the
ones it placed that the store does not show yet; never to a host marked dead
or past its memory threshold (`full`); with none left, nowhere."""
from __future__ import annotations

import time

from advm.net.cluster import PLACED_S, Directory, resident_mb


def directory(**hosts) -> Directory:
    d = Directory(None, "postgresql://127.0.0.1/advm?schema=placement")
    d.hosts = {name: {"ws_url": f"ws://127.0.0.1:1/{name}", "documents": 0, **info}
               for name, info in hosts.items()}
    return d


def test_new_documents_go_to_the_host_owning_the_fewest():
    d = directory(a={}, b={}, c={})
    d.leased = {"a": 5, "b": 2, "c": 3}
    # ties go to the first listed
    assert [d.place() for _ in range(6)] == ["b", "b", "c", "b", "c", "a"]


def test_recent_placements_count_until_a_refresh_began_well_after_them():
    d = directory(a={}, b={})
    d.leased = {"a": 1, "b": 1}
    d.placed = [(time.monotonic() - 2 * PLACED_S, "b"), (time.monotonic(), "b")]
    assert d.place() == "a"  # b: 1 in the store, 2 placed since
    # a refresh that began now: the old placement is in the store's count, the new ones not
    d.counted(time.monotonic())
    assert [o for _, o in d.placed] == ["b", "a"]


def test_dead_and_full_hosts_take_nothing_new():
    d = directory(a={"full": True}, b={}, c={})
    d.leased = {"b": 9, "c": 0}
    d.mark_dead("c")
    assert d.place() == "b"
    d.mark_dead("b")
    assert d.place() is None
    assert d.any_host() == "a"  # it still serves the documents it owns


def test_resident_memory_is_read():
    assert resident_mb() > 1.0


def test_cluster_usage_errors_come_before_ray(cli, tmp_path):
    from server_kit import COUNTER

    doc = tmp_path / "counter.adb"
    doc.write_text(COUNTER)
    r = cli("run", doc, "--cluster", "127.0.0.1:1", "--store", tmp_path / "lmdb")
    assert r.code == 2 and "--cluster keeps documents in PostgreSQL" in r.err, r.err
    r = cli("run", doc, "--cluster", "127.0.0.1:1", "--store", "postgresql://127.0.0.1/x",
            "--hosts", "65")
    assert r.code == 2 and "--hosts is 1 to 64" in r.err, r.err
    r = cli("run", doc, "--cluster", "127.0.0.1:1", "--store", "postgresql://127.0.0.1/x",
            "--host-full-mb", "-1")
    assert r.code == 2 and "--host-full-mb" in r.err, r.err
    r = cli("cluster", "status", "--address", "127.0.0.1:1", "--store", str(tmp_path))
    assert r.code == 2 and "PostgreSQL URL" in r.err, r.err
