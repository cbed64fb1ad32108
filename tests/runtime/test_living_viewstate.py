"""ViewState in the runtime (spec/language.md 5.23, runtime.md 3): a committed message's calls
become `viewstate` frames for its sender, in call order, after its deltas; a failed message
makes none; outside a message's code the calls answer false and nothing is kept for later."""
from __future__ import annotations

from advm.compiler.build import build_source
from advm.runtime import contracts as C
from advm.runtime.living import LivingDocument
from advm.views.viewers import Viewers

SOURCE = """
@static { create { return true; } }
message Open { string tab; bool fail; bool later; }
public int opened;
public bool told_on_connect = true;
@connected {
  told_on_connect = ViewState.merge(Dynamic.dyn(1));
  return true;
}
channel open(Open o) {
  opened++;
  ViewState.merge(Dynamic.toDynamic("{\\"tab\\":\\"" + o.tab + "\\"}").getOrDefaultTo(Dynamic.dyn(0)));
  ViewState.goto("/" + o.tab);
  if (o.later) {
    transition #next in 1;
  }
  if (o.fail) {
    abort;
  }
}
#next {
  opened += 10;
}
"""
T0 = 1_700_000_000_000


def told(frames):
    return [(f["to"], f["viewstate"]) for f in frames if C.frame_kind(f) == "viewstate"]


def test_a_message_tells_its_sender_after_its_deltas_and_nothing_else_does():
    doc = LivingDocument(build_source(SOURCE, "vs.adb"), key="k", viewers=Viewers)
    frames = doc.create("ann", None, T0) + doc.connect("ann", T0) + doc.connect("bob", T0)
    assert told(frames) == [] and not doc.engine.value("told_on_connect")
    frames = doc.send("bob", "open", {"tab": "a", "fail": False, "later": True}, T0 + 1)
    kinds = [C.frame_kind(f) for f in frames]
    bob = frames[kinds.index("viewstate")]["to"]
    assert bob.startswith("bob@") and told(frames) == [(bob, {"merge": {"tab": "a"}}), (bob, {"goto": "/a"})]
    assert kinds.index("viewstate") > max(i for i, k in enumerate(kinds) if k == "delta")
    assert all(set(f) == {"to", "viewstate"} for f in frames if "viewstate" in f)
    # the transition the message scheduled runs later and tells nobody
    assert told(doc.advance(T0 + 5000)) == [] and doc.engine.value("opened") == 11
    # an aborted message tells nothing, and leaves nothing for the next input
    frames = doc.send("ann", "open", {"tab": "b", "fail": True, "later": False}, T0 + 6000)
    assert told(frames) == [] and [C.frame_kind(f) for f in frames] == ["error"]
    frames = doc.send("ann", "open", {"tab": "c", "fail": False, "later": False}, T0 + 7000)
    assert [t for _, t in told(frames)] == [{"merge": {"tab": "c"}}, {"goto": "/c"}]
    assert {w for w, _ in told(frames)} == {bob.replace("bob", "ann")}
