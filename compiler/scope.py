"""Lexical scopes and the rules of the body being checked.

A `Rules` value says what the code of one body may do (read or write the
document, use `@who`, abort, await, transition, ...) and what it must return;
one is made per function, handler, state block, formula, policy. The checker
consults it at each statement or expression that needs a permission, so every
"not allowed here" diagnostic comes from one place.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .docinfo import LocalVar, StructInfo
from .types import BOOL, STRING, VOID, Type


@dataclass(frozen=True)
class Rules:
    """One row of the table in spec/language.md section 7."""

    what: str  # how diagnostics name the body: "function 'f'", "@connected", ...
    reads_doc: bool = True
    writes_doc: bool = True  # fields, ingestion, deletes, map/maybe updates, asking for input
    random: bool = True  # Random and shuffle (they advance the document's stream)
    who: bool = False
    context: bool = False
    viewer: bool = False  # @viewer: document bubbles
    web: bool = False  # @parameters and @headers: the request of a @web handler
    test: bool = False  # @step, @forward, @pump, @aborts, log: test blocks
    abort: bool = False
    await_: bool = False  # also `invoke`
    transition: bool = True
    destroy: bool = True
    pure: bool = False  # a `function`: no procedures, only pure library calls
    construct: bool = False  # readonly fields are assignable
    returns: Type = VOID  # VOID: only a bare `return;`
    value_body: bool = False  # `return v;` is meaningful (functions, policies, ...)
    record: StructInfo | None = None  # record whose fields are in scope by bare name
    hint_abort: str = ""  # how to make `abort` legal here
    # an agent's tool (language.md 4.31): (agent, mutating, the agent's mutable fields)
    tool: tuple | None = None


# What a body that only reads may not do.
_READER = dict(writes_doc=False, random=False, transition=False, destroy=False)


def function_rules(name: str, returns: Type) -> Rules:
    return Rules(
        f"function '{name}'", reads_doc=False, pure=True, returns=returns, value_body=True,
        **_READER,
    )


def procedure_rules(name: str, returns: Type, readonly: bool, aborts: bool, record=None, kind="procedure") -> Rules:
    return Rules(
        f"{kind} '{name}'", writes_doc=not readonly, random=not readonly, who=True, abort=aborts,
        transition=not readonly, destroy=not readonly, returns=returns, value_body=True, record=record,
        hint_abort=f"declare the {kind} `aborts`",
    )


def reader_rules(what: str, who: bool = False, record=None, viewer: bool = False) -> Rules:
    """Formulas and bubbles: read the document, change nothing."""
    return Rules(what, who=who, record=record, viewer=viewer, **_READER)


def policy_rules(name: str, record=None) -> Rules:
    return Rules(f"policy '{name}'", who=True, record=record, returns=BOOL, value_body=True, **_READER)


def static_rules(name: str) -> Rules:
    # Static policies run before any document exists: no state at all.
    return Rules(f"@static {name}", reads_doc=False, who=True, context=True, returns=BOOL, value_body=True,
                 **_READER)


HANDLER_RULES = {
    "construct": Rules("@construct", who=True, abort=True, construct=True),
    "load": Rules("@load"),
    "connected": Rules("@connected", who=True, context=True, returns=BOOL, value_body=True),
    "disconnected": Rules("@disconnected", who=True, context=True),
    # @delete only answers whether deletion may happen; the answer must not
    # depend on (or leave behind) a change, so it reads and nothing else.
    "delete": Rules("@delete", who=True, returns=BOOL, value_body=True, **_READER),
    # Uploads (language.md 4.29): whether @who may attach a file (it only reads), and
    # what the document does with one (a transaction, which may abort: the upload is refused).
    "can_attach": Rules("@can_attach", who=True, returns=BOOL, value_body=True, **_READER),
    "attached": Rules("@attached", who=True, abort=True),
    # Sign-in (language.md 4.20.1): read the document, answer the agent's name or abort.
    "authorize": Rules("@authorize", returns=STRING, value_body=True, abort=True, **_READER),
    "authorization": Rules("@authorization", returns=STRING, value_body=True, abort=True, **_READER),
}


def channel_rules(name: str) -> Rules:
    return Rules(f"channel '{name}'", who=True, context=True, abort=True)


def web_rules(method: str, path: str, returns: Type) -> Rules:
    """@web get and options only read (nothing they do is logged, language.md
    4.28); put and delete change the document and may abort."""
    what = f"@web {method} {path}"
    if method in ("get", "options"):
        return Rules(what, who=True, web=True, returns=returns, value_body=True, **_READER)
    return Rules(what, who=True, web=True, abort=True, returns=returns, value_body=True)


def state_rules(name: str) -> Rules:
    return Rules(f"state #{name}", abort=True, await_=True)


def cron_rules(name: str) -> Rules:
    return Rules(f"@cron {name}", abort=True)


def test_rules(name: str) -> Rules:
    return Rules(f"test '{name}'", abort=True, test=True)


def default_rules() -> Rules:
    """Field defaults: computed when the document is created; they only read."""
    return Rules("a field default", **_READER)


def with_record(rules: Rules, record: StructInfo) -> Rules:
    return replace(rules, record=record)


@dataclass
class Scope:
    """Nested blocks of locals inside one body."""

    frames: list[dict[str, LocalVar]] = field(default_factory=lambda: [{}])
    loops: int = 0  # enclosing loops (`continue` needs one)
    breakables: int = 0  # enclosing loops and switches (`break` needs one)

    def push(self) -> None:
        self.frames.append({})

    def pop(self) -> None:
        self.frames.pop()

    def lookup(self, name: str) -> LocalVar | None:
        for frame in reversed(self.frames):
            if name in frame:
                return frame[name]
        return None

    def declare(self, var: LocalVar) -> None:
        self.frames[-1][var.name] = var

    def names(self) -> list[str]:
        out = []
        for frame in self.frames:
            out.extend(frame)
        return out
