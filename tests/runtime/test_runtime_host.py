"""The one runtime host (runtime/host.py, spec/runtime.md 7; issue 11 point 2).

Every driver of documents (`advm run --once`, scripted sessions in memory and
on the store, the test runner, a server's shard on either backend) runs them
through `RuntimeHost`: the loops each once had are gone, and documents behave the
same in every driver on `@static` gating, the transition cap and timers."""
from __future__ import annotations

import itertools
import json
import threading

import pytest

from advm.cli import ExitCode
from advm.commands import run as run_command
from advm.commands import runtests
from advm.compiler.build import build_source
from advm.net import documents, shard
from advm.net.documents import DurableBackend, MemoryBackend, Shelf
from advm.net.shard import Shard
from advm.runtime import host as host_module
from advm.runtime import living as living_module
from advm.runtime.host import MAX_IMMEDIATE, RuntimeHost, NotFound, Refused
from advm.session import CLOCK_START_MS, Session, StoredSession
from advm.store import Store
from advm.views.viewers import Viewers

T0 = CLOCK_START_MS
DAY = 86_400_000
ALLOW = "@static {\n  create {\n    return true;\n  }\n}\n"

SPIN = """
public int n;
@construct {
  transition #spin;
}
#spin {
  n = n + 1;
  transition #spin;
}
"""

CLOCKWORK = """
public int runs;
public string days;
public long fired_at;
@construct {
  transition #tick in 5400;
}
#tick {
  fired_at = Time.now();
}
@cron nightly daily 1:00 {
  runs++;
  days = days + Time.today() + " ";
}
"""

PICKY = """
public int n;
@static {
  create {
    return @who.agent() == "ann";
  }
}
"""

NO_POLICY = "public int n;\n"
STORES = itertools.count()

NO_POLICY_MESSAGE = ("the document has no @static create policy, so nobody may create it "
                     "(spec/language.md 4.23); {who} was refused")


# ---------------------------------------------------------------- the drivers, side by side


class Drivers:
    """Each driver, reduced to: create as `who`, let time pass to `until`,
    read a field. `create` returns None when it worked, else the refusal's
    (code, message)."""

    def __init__(self, source: str, tmp_path):
        self.source = source
        self.module = build_source(source, "doc.adb")
        self.tmp_path = tmp_path

    # --- scripted sessions (memory and store)

    def session(self, stored: bool = False):
        if not stored:
            return Session(self.module)
        store = Store(self.tmp_path / f"store{next(STORES)}")
        return StoredSession(self.module, store)

    @staticmethod
    def session_create(s, who: str):
        out = s.feed(json.dumps({"op": "create", "as": who}), 1)
        errors = [f["error"] for f in out if "error" in f and f["to"] is not None]
        return (errors[0]["code"], errors[0]["message"]) if errors else None

    # --- a server's shard (memory and store)

    def shard(self, stored: bool = False):
        if not stored:
            return Shard(self.module, MemoryBackend(self.module, Shelf()))
        store = Store(self.tmp_path / f"shard{next(STORES)}")
        return Shard(self.module, DurableBackend(self.module, store))

    @staticmethod
    def shard_create(sh, who: str):
        got = answer(sh.handle("create", "k", {"who": who}, T0))
        return tuple(got["error"]) if "error" in got else None


@pytest.fixture
def drivers(tmp_path):
    return lambda source: Drivers(source, tmp_path)


def answer(fut):
    """A shard's reply, once it is released (a durable one after its commit)."""
    landed = threading.Event()
    fut.add_done_callback(lambda _: landed.set())
    assert landed.wait(30)
    return fut.result()


def field_of(doc, name):
    return doc.living.engine.field(name)


# ---------------------------------------------------------------- @static, one way


@pytest.mark.parametrize("stored", [False, True], ids=["memory", "store"])
def test_without_a_create_policy_nobody_creates_in_any_driver(drivers, stored, cli, tmp_path):
    d = drivers(NO_POLICY)
    want = ("create_refused", NO_POLICY_MESSAGE.format(who="ann@"))
    s = d.session(stored)
    assert d.session_create(s, "ann") == want
    assert s.host.loaded(s.doc) is None
    assert d.shard_create(d.shard(stored), "ann@") == want
    src = tmp_path / "none.adb"
    src.write_text(NO_POLICY, encoding="utf-8")
    r = cli("run", "--once", src, "--as", "ann@")
    assert (r.code, r.out) == (ExitCode.FAILURE, "")
    assert r.err == f"advm: error: {src}: {NO_POLICY_MESSAGE.format(who='ann@')}\n"


@pytest.mark.parametrize("stored", [False, True], ids=["memory", "store"])
def test_a_create_policy_decides_the_same_in_every_driver(drivers, stored, cli, tmp_path):
    d = drivers(PICKY)
    refused = ("create_refused", "the @static create policy refuses bob@")
    assert d.session_create(d.session(stored), "bob") == refused
    assert d.session_create(d.session(stored), "ann") is None
    assert d.shard_create(d.shard(stored), "bob@") == refused
    assert d.shard_create(d.shard(stored), "ann@") is None
    src = tmp_path / "picky.adb"
    src.write_text(PICKY, encoding="utf-8")
    assert cli("run", "--once", src, "--as", "ann@").code == ExitCode.OK
    r = cli("run", "--once", src, "--as", "bob@", "--json")
    assert json.loads(r.out)["error"] == {"kind": "policy", "message": refused[1], "position": None,
                                          "during": "@static create"}


def test_the_host_refuses_an_existing_key_before_asking_the_policy(drivers):
    d = drivers(PICKY)
    h = RuntimeHost(d.module, host_module.MemoryBackend(d.module, viewers=Viewers), clock=T0)
    doc, frames = h.create("g", "ann@")
    assert doc is h.loaded("g") and doc.living.engine.created
    for who in ("ann@", "bob@"):  # bob would be refused by the policy: existence is checked first
        with pytest.raises(Refused) as e:
            h.create("g", who)
        assert (e.value.code, e.value.message) == ("already_created", "document 'g' already exists")


def test_a_failing_policy_says_no(drivers):
    # It runs out of its instruction budget.
    d = drivers("@static {\n  instruction_budget = 1000;\n  create {\n    int i = 0;\n"
                "    while (i >= 0) {\n      i++;\n    }\n    return true;\n  }\n}\npublic int n;\n")
    h = RuntimeHost(d.module, host_module.MemoryBackend(d.module, viewers=Viewers), clock=T0)
    assert h.gate.allows("create", "ann@") is False
    with pytest.raises(Refused):
        h.create("g", "ann@")


def test_invent_is_the_gate_too(drivers):
    d = drivers("@static {\n  invent {\n    return @who.agent() == \"ann\";\n  }\n}\npublic int n;\n")
    h = RuntimeHost(d.module, host_module.MemoryBackend(d.module, viewers=Viewers), clock=T0)
    with pytest.raises(NotFound):
        h.invent("g", "bob@")
    doc, _ = h.invent("g", "ann@")
    assert h.loaded("g") is doc
    with pytest.raises(Refused):  # invent is no create policy
        h.create("h", "ann@")


# ---------------------------------------------------------------- the transition cap


@pytest.mark.parametrize("stored", [False, True], ids=["memory", "store"])
def test_a_self_transition_runs_max_immediate_times_per_input_in_every_driver(drivers, stored, cli,
                                                                                tmp_path):
    d = drivers(SPIN + ALLOW)
    s = d.session(stored)
    assert d.session_create(s, "ann") is None
    assert s.living.engine.field("n") == MAX_IMMEDIATE and s.living.capped
    sh = d.shard(stored)
    assert d.shard_create(sh, "ann@") is None
    assert field_of(sh.docs["k"], "n") == MAX_IMMEDIATE and sh.docs["k"].living.capped
    # The next input runs the next MAX_IMMEDIATE, in both.
    s.feed('{"op":"advance","seconds":0}', 2)
    assert s.living.engine.field("n") == 2 * MAX_IMMEDIATE
    answer(sh.handle("advance", "k", {}, T0))
    assert field_of(sh.docs["k"], "n") == 2 * MAX_IMMEDIATE
    # --once stops there and says so.
    src = tmp_path / "spin.adb"
    src.write_text(SPIN + ALLOW, encoding="utf-8")
    r = cli("run", "--once", src)
    assert r.code == ExitCode.FAILURE
    assert f"the state machine did not settle: {MAX_IMMEDIATE} transitions in a row" in r.err


def test_the_cap_has_one_name():
    assert MAX_IMMEDIATE is living_module.MAX_IMMEDIATE == 1000
    assert not hasattr(run_command, "MAX_TRANSITIONS")


def test_the_test_runner_caps_a_self_transition_instead_of_hanging(cli, tmp_path):
    src = tmp_path / "t.adb"
    src.write_text(SPIN + "test spins {\n  transition #spin;\n  @forward 1;\n  assert (n == "
                   f"{MAX_IMMEDIATE + 1});\n}}\n", encoding="utf-8")
    r = cli("test", src)
    # MAX_IMMEDIATE in a row at the instant it was due, then the wake at the target runs one more.
    assert (r.code, r.out.splitlines()[1]) == (ExitCode.OK, "spins ... ok")


# ---------------------------------------------------------------- timers


@pytest.mark.parametrize("stored", [False, True], ids=["memory", "store"])
def test_timers_run_each_at_its_own_time_in_every_driver(drivers, stored):
    d = drivers(CLOCKWORK + ALLOW)
    s = d.session(stored)
    d.session_create(s, "ann")
    s.feed(json.dumps({"op": "advance", "seconds": 3 * 86_400}), 2)
    sh = d.shard(stored)
    due = answer(sh.handle("create", "k", {"who": "ann@"}, T0))["due"]
    # As a server's host does: an advance at each due time its replies name.
    while due <= T0 + 3 * DAY:
        due = answer(sh.handle("advance", "k", {}, due))["due"]
    answer(sh.handle("advance", "k", {}, T0 + 3 * DAY))
    for doc in (s.living.engine, sh.docs["k"].living.engine):
        assert doc.field("runs") == 3
        assert doc.field("days") == "2026-01-01 2026-01-02 2026-01-03 "
        assert doc.field("fired_at") == T0 + 5_400_000


def test_the_test_runner_lets_time_pass_through_the_host(cli, tmp_path, monkeypatch):
    src = tmp_path / "t.adb"
    src.write_text("public long at;\n#later {\n  at = Time.now();\n}\n"
                   "test waits {\n  transition #later in 90;\n  @forward 60;\n  assert (at == 0);\n"
                   "  @forward 30;\n  assert (at > 0);\n}\n", encoding="utf-8")
    calls = []
    real = RuntimeHost.pass_time

    def spy(self, doc, until):
        calls.append((type(doc).__name__, until))
        return real(self, doc, until)

    monkeypatch.setattr(RuntimeHost, "pass_time", spy)
    r = cli("test", src)
    assert r.code == ExitCode.OK, r.out
    assert [name for name, _ in calls] == ["Harness", "Harness"]
    assert calls[1][1] - calls[0][1] == 30_000


# ---------------------------------------------------------------- every driver drives RuntimeHost


def test_every_driver_holds_the_one_host(drivers, tmp_path):
    d = drivers(ALLOW + "public int n;\n")
    assert isinstance(Session(d.module).host, RuntimeHost)
    stored = StoredSession(d.module, Store(tmp_path / "s"))
    assert isinstance(stored.host, RuntimeHost) and isinstance(stored.host.backend, DurableBackend)
    sh = Shard(d.module, MemoryBackend(d.module, Shelf()))
    assert isinstance(sh.host, RuntimeHost) and sh.docs is sh.host.docs
    assert isinstance(MemoryBackend(d.module, Shelf()), host_module.MemoryBackend)
    assert documents.MemoryDocument is host_module.MemoryDocument
    assert documents.Resolved is host_module.Resolved and documents.Shelf is host_module.Shelf
    assert documents.NotFound is shard.NotFound is host_module.NotFound


def test_the_old_loops_are_gone():
    # What each driver had of its own: a transition loop (--once), an advance
    # loop and a create path per session class, the shard's gate and loader,
    # the memory shelf's own input conversion and the harness's forward loop.
    assert not hasattr(run_command, "MAX_TRANSITIONS")
    for name in ("_create_new", "_open", "_after_step", "_reconnect"):
        assert not hasattr(Session, name) and not hasattr(StoredSession, name), name
    for name in ("_static", "_gate", "_open", "_exists"):
        assert not hasattr(Shard, name), name
    import inspect

    assert "while" not in inspect.getsource(runtests.Harness.forward)
    assert "while" not in inspect.getsource(Session._advance)
    assert "run_transition" not in inspect.getsource(run_command)
    assert "as_input" in inspect.getsource(host_module.MemoryDocument.submit)


def test_each_driver_creates_through_host_create(drivers, cli, tmp_path, monkeypatch):
    made = []
    real = RuntimeHost.create

    def spy(self, key, who, *args, **kw):
        made.append((type(self.backend).__name__, key, who))
        return real(self, key, who, *args, **kw)

    monkeypatch.setattr(RuntimeHost, "create", spy)
    d = drivers(ALLOW + "public int n;\n")
    d.session_create(d.session(), "ann")
    d.session_create(d.session(stored=True), "ann")
    d.shard_create(d.shard(), "ann@")
    d.shard_create(d.shard(stored=True), "ann@")
    src = tmp_path / "d.adb"
    src.write_text(ALLOW + "public int n;\n", encoding="utf-8")
    assert cli("run", "--once", src).code == ExitCode.OK
    assert made == [("MemoryBackend", "main", "ann@"), ("DurableBackend", "main", "ann@"),
                    ("MemoryBackend", "k", "ann@"), ("DurableBackend", "k", "ann@"),
                    ("MemoryBackend", "main", "advm@local")]


# ---------------------------------------------------------------- the host itself


def test_the_clock_moves_forward_only(drivers):
    d = drivers(ALLOW + "public int n;\n")
    h = RuntimeHost(d.module, host_module.MemoryBackend(d.module, viewers=Viewers), clock=T0)
    assert h.at() == T0 and h.at(T0 + 5) == T0 + 5 and h.clock == T0 + 5
    assert h.at(T0) == T0 and h.clock == T0 + 5  # an earlier input keeps its time; the clock stays


def test_recover_keeps_viewers_and_open_drops_them(drivers):
    d = drivers(ALLOW + "public int n;\n@connected {\n  n++;\n  return true;\n}\n"
                        "@disconnected {\n  n = n + 100;\n}\n")
    backend = host_module.MemoryBackend(d.module, viewers=Viewers)
    h = RuntimeHost(d.module, backend, clock=T0)
    h.create("g", "ann@")
    h.submit("g", {"op": "connect", "as": "ann@"}).result()
    h.checkpoint("g")
    doc = h.recover("g")
    assert doc.living.connected == ["ann@"] and field_of(doc, "n") == 1
    frames = h.reconnect("g")
    assert frames[0] == {"to": "ann@", "connected": True} and field_of(doc, "n") == 1
    assert h.unload("g") and h.loaded("g") is None
    doc = h.open("g")  # a server's load: whoever is listed has gone
    assert doc.living.connected == [] and field_of(doc, "n") == 101
    assert h.recover("nope") is None
    with pytest.raises(NotFound):
        h.open("nope")


def test_a_failed_construct_leaves_nothing_behind(drivers):
    d = drivers(ALLOW + "public int n;\n@construct {\n  abort;\n}\n")
    backend = host_module.MemoryBackend(d.module, viewers=Viewers)
    h = RuntimeHost(d.module, backend, clock=T0)
    doc, frames = h.create("g", "ann@")
    assert not doc.living.engine.created and doc.living.last_error.kind == "abort"
    assert frames[0]["error"]["code"] == "abort"
    assert h.loaded("g") is None and not h.exists("g")


@pytest.mark.parametrize("stored", [False, True], ids=["memory", "store"])
def test_a_deleted_documents_key_can_be_created_again_in_every_driver(drivers, stored):
    d = drivers(ALLOW + "public int n;\n@construct {\n  n = 7;\n}\n@delete {\n  return true;\n}\n")
    s = d.session(stored)
    assert d.session_create(s, "ann") is None
    s.feed('{"op":"delete","as":"ann"}', 2)
    out = s.feed('{"op":"connect","as":"ann"}', 3)
    assert [f["error"]["code"] for f in out] == ["destroyed"]  # until the key is created again
    assert d.session_create(s, "bob") is None
    assert s.living.engine.field("n") == 7 and not s.living.destroyed
    sh = d.shard(stored)
    assert d.shard_create(sh, "ann@") is None
    assert answer(sh.handle("delete", "k", {"who": "ann@"}, T0)).get("destroyed") is True
    assert d.shard_create(sh, "bob@") is None


# ---------------------------------------------------------------- a viewer's own state, one path

PAGED = ALLOW + """@connected { return true; }
view int page;
public int size = 3;
bubble shown = @viewer.page * size;
"""


def test_a_viewers_state_goes_through_the_host_in_every_driver(drivers, monkeypatch):
    """A session's `update` line and a shard's connection/update both go
    through RuntimeHost.update_viewer, with the same refusals."""
    d = drivers(PAGED)
    calls = []
    real = RuntimeHost.update_viewer

    def spy(self, key, who, state):
        calls.append((key, who, state))
        return real(self, key, who, state)

    monkeypatch.setattr(RuntimeHost, "update_viewer", spy)
    s = d.session()
    s.feed(json.dumps({"op": "create", "as": "ann"}), 1)
    s.feed(json.dumps({"op": "connect", "as": "ann"}), 2)
    out = s.feed(json.dumps({"op": "update", "as": "ann", "viewer_state": {"page": 2}}), 3)
    assert [f["delta"]["shown"] for f in out if "delta" in f] == [6]
    refused = s.feed(json.dumps({"op": "update", "as": "bob", "viewer_state": {"page": 1}}), 4)
    assert [f["error"]["code"] for f in refused] == ["not_connected"]
    bad = s.feed(json.dumps({"op": "update", "as": "ann", "viewer_state": {"page": "two"}}), 5)
    assert [f["error"]["code"] for f in bad] == ["input"]
    assert bad[0]["error"]["message"].startswith("viewer state: ")

    sh = d.shard()
    assert d.shard_create(sh, "ann@") is None
    answer(sh.handle("connect", "k", {"who": "ann@"}, T0 + 1))
    got = answer(sh.handle("update", "k", {"who": "ann@", "state": {"page": 1}}, T0 + 2))
    assert [(to, json.loads(patch)["shown"]) for to, patch, _ in got["deltas"]] == [("ann@", 3)]
    no = answer(sh.handle("update", "k", {"who": "bob@", "state": {"page": 1}}, T0 + 3))
    assert no["error"][0] == "not_connected"
    wrong = answer(sh.handle("update", "k", {"who": "ann@", "state": {"page": "x"}}, T0 + 4))
    assert wrong["error"][0] == "input" and wrong["error"][1].startswith("viewer state: ")
    assert [who for _, who, _ in calls] == ["ann@", "bob@", "ann@"] * 2


def test_step_runs_the_pending_transition_early_through_the_host(cli, tmp_path, monkeypatch):
    """The test runner's @step is a host call like its @forward (issue 11): the
    transition runs now, before it is due, at the host's clock."""
    src = tmp_path / "t.adb"
    src.write_text("public long at = -1;\n#later {\n  at = Time.now();\n}\n"
                   "test steps {\n  transition #later in 90;\n  @step;\n  assert (at == 0);\n}\n",
                   encoding="utf-8")
    calls = []
    real = RuntimeHost.step

    def spy(self, doc):
        calls.append((type(doc).__name__, self.clock))
        return real(self, doc)

    monkeypatch.setattr(RuntimeHost, "step", spy)
    r = cli("test", src)
    assert r.code == ExitCode.OK, r.out
    assert calls == [("Harness", 0)]
    h = RuntimeHost(build_source(ALLOW, "x.adb"), None, clock=5)

    class Pending:
        woke = []

        def wake(self, at, early=False):
            self.woke.append((at, early))
            return []

    assert h.step(Pending()) == [] and Pending.woke == [(5, True)]
