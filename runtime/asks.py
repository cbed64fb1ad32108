"""Asks and futures: what a document wants to hear from whom (spec/language.md
sections 5.22 and 8).

`c.fetch(p)`, `c.decide(p, options)` and `c.choose(p, options, limit)` call the
host function `ask`, which opens an Ask in the document's AskBook and returns
the future: a small map {id, channel, kind, who, options, limit} that lives in
the code's registers. `f.await()` SUSPENDs with that map as the payload; the
book then says whether the answer is already there. A future that got its
answer keeps it (`done`, `answer`), so awaiting it again yields it again.

An ask moves through these states:

    opened (fresh) --the transaction checkpoints--> live, open
    live, open     --answer arrives while not awaited--> answered (stored)
    live, open or answered --its await takes the answer--> consumed (gone)
    live           --the computation ends or is cancelled--> withdrawn (gone)
    fresh          --the transaction ends without waiting--> dropped (never shown)

Opening and consuming happen inside transactions and are undo-logged, so a
rollback (to the start, or to an await's savepoint) puts the book back too.
What clients were told is kept apart, in `shown`: `sync()` compares it with
what should be visible and returns the notices (ask / closed) that make them
agree. It runs only after a commit, so a rolled-back change is never shown.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

FETCH, DECIDE, CHOOSE = "fetch", "decide", "choose"
ENQUEUE = "enqueue"  # chan.enqueue(who, msg): as if who sent msg (open() below)
# A service call code may await (runtime/services.py): an ask nobody sees, whose
# `channel` is "service.method", `who` the caller, `options` [the request as
# JSON text] and `limit` 1 for @no_cache; answered by a result input.
SERVICE = "service"


class AnswerError(ValueError):
    """An answer the document refuses before anything runs; `code` names why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(eq=False)
class Ask:
    id: int
    who: str
    channel: str
    kind: str
    options: list | None  # machine values (decide, choose); None for fetch
    limit: int
    live: bool = False  # survived a checkpoint: it belongs to the waiting computation
    answered: bool = False  # an answer is stored, waiting for its await
    answer: object = None

    def to_values(self) -> list:
        return [self.id, self.who, self.channel, self.kind, self.options, self.limit,
                self.live, self.answered, self.answer]

    @classmethod
    def from_values(cls, v: list) -> "Ask":
        return cls(*v)


def future_of(ask: Ask | None, channel: str, kind: str, who: str, options, limit: int) -> dict:
    """The value code holds. An ask that needs no answer (decide or choose with
    nothing to pick from) has id None: its await yields empty at once."""
    return {"id": ask.id if ask else None, "channel": channel, "kind": kind, "who": who,
            "options": options, "limit": limit}


class AskBook:
    def __init__(self):
        self.asks: dict[int, Ask] = {}
        self.next_id = 1
        self.fresh: list[Ask] = []  # opened by the open transaction
        self.shown: dict[int, str] = {}  # ask id -> principal: asks whose frame is out
        # Service calls (runtime/services.py): committed calls without a result
        # (id -> [channel, who, request]) and formulas' results (invocation ->
        # result map) are state; what formulas asked for last is not.
        self.calls: dict[int, list] = {}
        self.cache: dict[str, dict] = {}
        self.wanted: dict[str, tuple] = {}
        # chan.enqueue's messages no fetch took yet: (channel, who) -> values, oldest first
        self.queued: dict[tuple[str, str], list] = {}

    # ------------------------------------------------------------ inside transactions

    def open(self, m, spec, who: str, options, limit: int) -> dict:
        """The host function behind fetch/decide/choose (`m` is the machine)."""
        channel, kind = spec
        options = list(options) if options is not None else None
        if kind == ENQUEUE:
            self._enqueue(m, channel, who, options[0])
            return future_of(None, channel, kind, who, None, 0)
        if kind in (DECIDE, CHOOSE) and (not options or limit < 1):
            return future_of(None, channel, kind, who, options, limit)
        ask = Ask(self.next_id, who, channel, kind, options, limit)
        self.next_id += 1
        self.asks[ask.id] = ask
        self.fresh.append(ask)
        m.log_undo((partial(self._unopen, ask),))
        queue = self.queued.get((channel, who)) if kind == FETCH else None
        if queue:  # an enqueued message waits: this fetch takes it at once
            value = queue.pop(0)
            m.log_undo((partial(self._requeue, channel, who, value),))
            if not queue:
                del self.queued[(channel, who)]
            ask.answered, ask.answer = True, value
        return future_of(ask, channel, kind, who, options, limit)

    def _enqueue(self, m, channel: str, who: str, value) -> None:
        """chan.enqueue(who, value) (language.md 5.22): it answers who's oldest
        open fetch on the channel, else waits for the next one. Undone by a rollback."""
        for ask in sorted(self.asks.values(), key=lambda a: a.id):
            if ask.live and not ask.answered and ask.kind == FETCH and ask.who == who and ask.channel == channel:
                ask.answered, ask.answer = True, value
                m.log_undo((partial(self.refuse, ask.id),))
                return
        self.queued.setdefault((channel, who), []).append(value)
        m.log_undo((partial(self._unqueue, channel, who),))

    def _unqueue(self, channel: str, who: str) -> None:
        queue = self.queued[(channel, who)]
        queue.pop()
        if not queue:
            del self.queued[(channel, who)]

    def _requeue(self, channel: str, who: str, value) -> None:
        self.queued.setdefault((channel, who), []).insert(0, value)

    def _unopen(self, ask: Ask) -> None:
        del self.asks[ask.id]
        self.next_id = ask.id
        if ask in self.fresh:
            self.fresh.remove(ask)

    def ready(self, future) -> tuple[bool, object]:
        """(True, answer) when the await on `future` need not wait."""
        if not isinstance(future, dict):
            return False, None
        if future.get("id") is None and "state" in future:  # a service call that failed at once
            return True, future
        if future.get("id") is None or future.get("done"):
            return True, future.get("answer")
        ask = self.asks.get(future["id"])
        if ask is not None and ask.answered:
            return True, ask.answer
        return False, None

    def consume(self, m, future: dict, value) -> None:
        """The await on `future` took `value`: the ask is done, and the future
        keeps the value for any later await of it. Both are undone by a rollback."""
        ask = self.asks.pop(future["id"], None)
        if ask is not None:
            m.log_undo((partial(self._put_back, ask),))
        m.map_put(future, "done", True)
        m.map_put(future, "answer", value)
        if "state" in future and type(value) is dict:  # a service result: the map says it is over
            for k in ("state", "code", "message", "value"):
                m.map_put(future, k, value[k])

    def _put_back(self, ask: Ask) -> None:
        self.asks[ask.id] = ask

    # ------------------------------------------------------------ at the end of a transaction

    def begin(self) -> None:
        self.fresh = []

    def _issue(self) -> None:
        """The transaction commits: its service calls are made, awaited or not."""
        for ask in self.fresh:
            if ask.kind == SERVICE:
                self.calls[ask.id] = [ask.channel, ask.who, ask.options[0]]

    def keep_fresh(self) -> None:
        """The transaction stopped at an await: its asks wait with the code."""
        self._issue()
        for ask in self.fresh:
            ask.live = True
        self.fresh = []

    def drop_fresh(self) -> None:
        """The transaction ended without waiting: nobody will await its asks."""
        self._issue()
        for ask in self.fresh:
            self.asks.pop(ask.id, None)
        self.fresh = []

    def withdraw_live(self) -> None:
        """The waiting computation is over (finished or cancelled)."""
        for ask_id in [a.id for a in self.asks.values() if a.live]:
            del self.asks[ask_id]

    def clear(self) -> None:
        """The document ended: every ask is withdrawn (sync() tells whoever was asked)."""
        self.asks.clear()
        self.fresh = []
        self.calls.clear()
        self.queued.clear()

    # ------------------------------------------------------------ between transactions

    def store(self, ask: Ask, value) -> None:
        ask.answered = True
        ask.answer = value

    def refuse(self, ask_id) -> Ask | None:
        """An abort after the await that took this stored answer: the answer is
        gone and the ask is open again."""
        ask = self.asks.get(ask_id)
        if ask is not None:
            ask.answered = False
            ask.answer = None
        return ask

    def visible(self) -> list[Ask]:
        """Asks clients should see: live and unanswered, and per principal and
        channel only the oldest (the others queue behind it, spec 5.22)."""
        if not self.asks:
            return []
        seen = set()
        out = []
        for ask in sorted(self.asks.values(), key=lambda a: a.id):
            if not ask.live or ask.answered or ask.kind == SERVICE or (ask.who, ask.channel) in seen:
                continue
            seen.add((ask.who, ask.channel))
            out.append(ask)
        return out

    def sync(self) -> list[tuple[str, int, str, Ask | None]]:
        """Notices that bring clients up to date, closings first:
        ("closed", id, who, None) and ("ask", id, who, ask)."""
        if not self.asks and not self.shown:  # most documents, most of the time
            return []
        now = {a.id: a for a in self.visible()}
        notices = [("closed", i, who, None) for i, who in self.shown.items() if i not in now]
        notices += [("ask", i, a.who, a) for i, a in now.items() if i not in self.shown]
        self.shown = {i: a.who for i, a in now.items()}
        return notices

    def open_for(self, who: str) -> list[Ask]:
        return [a for a in self.visible() if a.who == who and a.id in self.shown]

    def oldest_open(self, who: str, channel: str) -> Ask | None:
        return next((a for a in self.open_for(who) if a.channel == channel), None)

    # ------------------------------------------------------------ answers

    def lookup(self, ask_id, who: str) -> Ask:
        """The open ask `who` may answer, or AnswerError saying why not."""
        if type(ask_id) is not int:
            raise AnswerError("unknown_ask", f"there is no ask {ask_id!r}")
        ask = self.asks.get(ask_id)
        if ask is not None and ask.kind == SERVICE:  # only the service's result answers it
            raise AnswerError("unknown_ask", f"there is no ask {ask_id}")
        if ask is None:
            if 0 < ask_id < self.next_id:
                raise AnswerError("stale_ask", f"ask {ask_id} is no longer open")
            raise AnswerError("unknown_ask", f"there is no ask {ask_id}")
        if ask.who != who:
            raise AnswerError("wrong_principal", f"ask {ask_id} was not made to {who}")
        if ask.answered:
            raise AnswerError("stale_ask", f"ask {ask_id} was already answered")
        if ask_id not in self.shown:  # queued behind an older ask to the same principal
            raise AnswerError("unknown_ask", f"ask {ask_id} is not open yet")
        return ask

    # ------------------------------------------------------------ snapshots

    def to_values(self) -> dict:
        out = {"next_id": self.next_id, "asks": [a.to_values() for a in self.asks.values()],
               "shown": [[i, who] for i, who in self.shown.items()]}
        if self.calls:  # only documents that call services carry these (older snapshots unchanged)
            out["calls"] = [[i, *c] for i, c in self.calls.items()]
        if self.cache:
            out["cache"] = [[k, v] for k, v in self.cache.items()]
        if self.queued:  # only documents that enqueue carry these (older snapshots unchanged)
            out["queued"] = [[c, w, list(vs)] for (c, w), vs in self.queued.items()]
        return out

    def load(self, v: dict) -> None:
        self.next_id = v["next_id"]
        self.asks = {}
        for a in v["asks"]:
            ask = Ask.from_values(a)
            self.asks[ask.id] = ask
        self.shown = {i: who for i, who in v["shown"]}
        self.fresh = []
        self.calls = {c[0]: list(c[1:]) for c in v.get("calls", ())}
        self.cache = {k: r for k, r in v.get("cache", ())}
        self.queued = {(c, w): list(vs) for c, w, vs in v.get("queued", ())}
        self.wanted = {}


def match_answer(ask: Ask, value, equal) -> object:
    """What the await yields for a parsed answer `value`, checked against the
    ask's options with `equal` (message equality). decide: the option chosen;
    choose: the chosen options in the answer's order, distinct, 1..limit."""
    if ask.kind == FETCH:
        return value
    if ask.kind == DECIDE:
        for option in ask.options:
            if equal(option, value):
                return option
        raise AnswerError("invalid_answer", f"the answer to ask {ask.id} is not one of its options")
    if not 1 <= len(value) <= ask.limit:
        raise AnswerError("invalid_answer",
                          f"ask {ask.id} takes between 1 and {ask.limit} options, got {len(value)}")
    taken: list[int] = []
    for item in value:
        index = next((k for k, o in enumerate(ask.options) if k not in taken and equal(o, item)), None)
        if index is None:
            again = any(equal(ask.options[k], item) for k in taken)
            raise AnswerError("invalid_answer", f"the answer to ask {ask.id} picks an option twice"
                              if again else f"the answer to ask {ask.id} is not among its options")
        taken.append(index)
    return [ask.options[k] for k in taken]


__all__ = ["Ask", "AskBook", "AnswerError", "match_answer", "future_of", "FETCH", "DECIDE", "CHOOSE", "SERVICE"]
