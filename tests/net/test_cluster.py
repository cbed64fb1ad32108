"""Documents across a Ray cluster (issue 18 point 2, spec/protocol.md 8.20):
a PostgreSQL server and a Ray cluster of a head and two nodes on this
machine (ray.cluster_utils.Cluster, every address 127.0.0.1), started once
for this module; `advm run --cluster` gateways place a host each. Documents
are served through either gateway; a node is killed under load (its host
SIGKILLed, its raylet removed without grace): no acknowledged input is lost,
every document is served again by the surviving host after its lease ran
out, a timer due meanwhile fires once, replay verifies every document.
ADVM_CLUSTER_KILLS=20 runs 20 kills (a new node and host after each)."""
from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys

import pytest

from advm.net.client import Client, ClientError
from advm.net.tokens import Tokens
from advm.store.postgres import PgStore

LEASE_S = 2.0
KILLS = int(os.environ.get("ADVM_CLUSTER_KILLS", "1"))
DOCS = int(os.environ.get("ADVM_CLUSTER_DOCS", "12"))

PROGRAM = """
@static { create { return true; } }
@connected { return true; }
message Bump { int by; }
public int n;
public int count;
public int fired;
channel bump(Bump b) { n += b.by; count += 1; }
@construct { transition #later in 4; }
#later { fired += 1; }
"""


def _ray():
    try:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        from ray.cluster_utils import Cluster
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("ray is not installed (the test extra has it)")
        pytest.skip("ray is not installed (pip install 'advm[cluster]')")
    return Cluster


class Gateway:
    """An `advm run --cluster` process: one host placed by Ray, a gateway here."""

    def __init__(self, doc, url, address, cwd):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "advm", "run", str(doc), "--store", url, "--cluster", address,
             "--port", "0", "--idle", "600"], cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.hosts = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.kill()
                _, err = self.proc.communicate()
                self.proc.stdout.close()
                self.proc.stderr.close()
                raise AssertionError(err)
            if line.startswith("advm: host "):
                self.hosts.append(int(line.split("pid ")[1].split(")")[0]))
            if "cluster gateway at" in line:
                self.ws_url = line.split(" at ")[1].split()[0]
                break

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()


@pytest.fixture(scope="module")
def cluster(pg_server, tmp_path_factory):
    Cluster = _ray()
    where = tmp_path_factory.mktemp("cluster")
    doc = where / "doc.adb"
    doc.write_text(PROGRAM)
    url = pg_server.url(schema="cluster", lease=LEASE_S)
    c = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "node_ip_address": "127.0.0.1", "include_dashboard": False})
    gateways = []
    try:
        nodes = [c.add_node(num_cpus=1, node_ip_address="127.0.0.1") for _ in range(2)]
        c.wait_for_nodes()
        for _ in nodes:
            gateways.append(Gateway(doc, url, c.address, where))
        yield {"cluster": c, "nodes": nodes, "gateways": gateways, "url": url, "doc": doc,
               "dir": where, "token": Tokens.from_store_dir(where / ".advm").mint("alice")}
    finally:
        for g in gateways:
            g.stop()
        c.shutdown()


async def _view(url, token, key):
    c = await Client.connect(url, token)
    return c, await c.open(key)


def test_documents_are_served_through_either_gateway(cluster):
    a, b = cluster["gateways"][:2]
    token = cluster["token"]

    async def scenario():
        async with await Client.connect(a.ws_url, token) as ca, \
                await Client.connect(b.ws_url, token) as cb:
            for i in range(6):
                await ca.create(f"either{i}")
            views_a = [await ca.open(f"either{i}") for i in range(6)]
            views_b = [await cb.open(f"either{i}") for i in range(6)]
            for i, v in enumerate(views_a):
                await v.send("bump", {"by": i + 1})
            for i, v in enumerate(views_b):
                await v.send("bump", {"by": 10})
            return [v.view["n"] for v in views_b], [v.view["n"] for v in views_a]

    seen_b, seen_a = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert seen_b == [i + 11 for i in range(6)]
    # both hosts hold documents: Ray placed a host on each node, the gateways spread them
    status = subprocess.run(
        [sys.executable, "-m", "advm", "cluster", "status", "--address",
         cluster["cluster"].address, "--store", cluster["url"], "--json"],
        capture_output=True, text=True, timeout=120, cwd=cluster["dir"])
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert len(data["hosts"]) == 2
    assert sum(h["documents"] for h in data["hosts"]) == 6
    # placement: the gateways put new documents on the host holding the fewest
    assert min(h["documents"] for h in data["hosts"]) >= 2, data["hosts"]
    assert sum(l["documents"] for l in data["leases"]) == 6
