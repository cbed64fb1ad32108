"""The router-worker transport fails one message alone, whatever it holds
(issue 10.2): a request pickle cannot write (nested too deep) is refused by
itself, the requests batched with it run, its document keeps answering, and
the router still shuts down. And what the worker's threads send goes out
when the lanes run dry, at least every MAX_HELD messages (issue 10's load
test)."""
from __future__ import annotations

import asyncio
import socket
from multiprocessing.connection import Connection

import pytest

from advm.net.router import Router, RouterError
from advm.net.worker import MAX_HELD, Link
from server_kit import COUNTER, module, run


def nested(depth: int):
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def test_a_request_that_cannot_cross_fails_alone():
    async def scenario(kit):
        router = Router(module(COUNTER), workers=1)
        await router.start()
        try:
            for key in ("a", "b"):
                await router.create(key, "alice@", None)
            # One event-loop turn: one batch to the worker holding all four.
            outcomes = await asyncio.gather(
                router.send("a", "alice@", "bump", {"by": 1}),
                router.send("a", "alice@", "bump", {"by": nested(2000)}),
                router.send("b", "alice@", "bump", {"by": 2}),
                router.send("a", "alice@", "bump", {"by": 3}),
                return_exceptions=True)
            assert outcomes[0] == outcomes[2] == {}
            assert outcomes[3] == {}
            refused = outcomes[1]
            assert isinstance(refused, RouterError) and refused.code == "bad_request"
            assert "RecursionError" in refused.message
            # Both documents still answer, and nothing was lost on the way.
            assert await router.send("a", "alice@", "bump", {"by": 10}) == {}
            assert await router.send("b", "alice@", "bump", {"by": 10}) == {}
        finally:
            await asyncio.wait_for(router.close(), 10)

    run(scenario)


class _Pipe:
    """Both ends of a Link's socket, the far end read on a thread."""

    def __init__(self):
        ours, theirs = socket.socketpair()
        self.link = Link(Connection(ours.detach()))
        self.far = Connection(theirs.detach())

    def close(self):
        self.link.conn.close()
        self.far.close()


@pytest.fixture
def pipe():
    p = _Pipe()
    yield p
    p.close()


def test_a_worker_message_that_cannot_cross_fails_alone(pipe):
    deep = nested(2000)
    answers = []
    with pipe.link.batched():
        pipe.link.send(("reply", 1, {"deltas": [("a@", "{}", 1)], "loaded": True}))
        pipe.link.send(("reply", 2, {"frames": [{"to": "a@", "ask": deep}, {"to": "a@",
                                                                              "connected": True}],
                                      "deltas": [("a@", "{}", 2)], "loaded": True}))
        pipe.link.send(("reply", 3, {"view": deep, "asks": [], "loaded": True}))
        pipe.link.call_back("append_envelope", ("k", {"payload": deep}), {},
                            lambda ok, value: answers.append((ok, value)))
        fut = pipe.link.call("last_seq", ("k",), {})
    tag, batch = pipe.far.recv()
    assert tag == "batch"
    assert batch[0] == ("reply", 1, {"deltas": [("a@", "{}", 1)], "loaded": True})
    # The input's reply keeps its deltas and the frames that cross alone.
    assert batch[1] == ("reply", 2, {"deltas": [("a@", "{}", 2)], "loaded": True,
                                     "frames": [{"to": "a@", "connected": True}]})
    # A view that cannot cross changed nothing: it fails.
    assert batch[2][:2] == ("reply", 3)
    assert batch[2][2]["error"][0] == "internal" and "view" not in batch[2][2]
    # The store call that cannot cross is answered here with an error; the
    # one beside it went to the router.
    assert [m[2] for m in batch[3:]] == ["last_seq"]
    assert len(answers) == 1 and answers[0][0] is False
    assert "RecursionError" in answers[0][1]
    pipe.link.resolve(batch[3][1], True, 7)
    assert fut.result(5) == 7


def test_a_request_that_cannot_cross_does_not_hold_up_shutdown():
    async def scenario(kit):
        router = Router(module(COUNTER), workers=1)
        await router.start()
        await router.create("a", "alice@", None)
        lost = router.send("a", "alice@", "bump", {"by": nested(2000)})
        closing = asyncio.ensure_future(router.close())
        with pytest.raises(RouterError):
            await lost
        await asyncio.wait_for(closing, 10)
        assert all(r.dead for r in router.runners)

    run(scenario)


def test_a_lane_leaves_the_write_to_a_draining_lane_but_holds_no_more_than_max_held(pipe):
    link = pipe.link
    link.draining = lambda: True  # another lane drains and is not stalled
    with link.batched(lane=True):
        for i in range(MAX_HELD + 3):
            link.send(("reply", i, {}))
        tag, batch = pipe.far.recv()  # written at MAX_HELD messages, inside the batch
        assert tag == "batch" and [m[1] for m in batch] == list(range(MAX_HELD))
    # This lane stopped while the other drains: the other writes the rest.
    assert not pipe.far.poll(0)
    link.draining = lambda: False
    with link.batched(lane=True):  # the other lane stops: nobody drains any more
        link.send(("reply", MAX_HELD + 3, {}))
    tag, batch = pipe.far.recv()
    assert [m[1] for m in batch] == [MAX_HELD, MAX_HELD + 1, MAX_HELD + 2, MAX_HELD + 3]


def test_a_lane_that_stops_while_the_reader_handles_a_batch_leaves_the_write_to_it(pipe):
    link = pipe.link
    with link.batched():  # the reader, handing a batch to the lanes
        with link.batched(lane=True):
            link.send(("reply", 1, {}))
        assert not pipe.far.poll(0)
        link.send(("reply", 2, {}))
    tag, batch = pipe.far.recv()
    assert [m[1] for m in batch] == [1, 2]
