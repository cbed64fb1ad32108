"""The hidden slots at the start of every document's root record.

Code generation places the document's own fields after these, so host
functions (the library, tables, the undo log) and the runtime find what they
need at fixed slots whatever the document declares. Each entry is
(name, kind, default); defaults are constants a record layout can hold.

    WHO       principal the running code acts for (@who); set per event
    NOW       the event's timestamp, ms since the epoch (Time reads only this)
    EPOCH     transactions the document committed (Document.seq(), also SEQ);
              counted by the runtime after each commit when the code calls
              Document.seq (else 0, as before), never logged. Named `$epoch`
              from an earlier use, so slot numbers and snapshots stay put
    STATE     the state label the document is in ("" = none)
    NEXT      the pending transition's label ("" = none)
    NEXT_IN   its delay in seconds
    DESTROY   true once @destroy / Document.destroy() ran in a committed event
    ZONE      the document's time zone (IANA name)
    KEY       the document's key
    SPACE     the document's space
    DEBUG     lines written by @debug in this event (list) or None (discarded)
    CONTEXT   the connection context of @static policies ({origin, ip})
    INVOKING  states being run by `invoke` right now (name -> True); also, under
              PREEMPT_KEY, the state a `preempt` named in the running block, and
              under BLOCKED_KEY, the state whose block ran `block;` and waits for
              the document's next input (keys no state name can be)
"""
from __future__ import annotations

HIDDEN = [
    ("$who", "o", "?@?"),
    ("$now", "l", 0),
    ("$epoch", "l", 0),
    ("$state", "o", ""),
    ("$next", "o", ""),
    ("$next_in", "d", 0.0),
    ("$destroy", "b", False),
    ("$zone", "o", "UTC"),
    ("$key", "o", ""),
    ("$space", "o", ""),
    ("$debug", "o", None),
    ("$context", "o", None),
    ("$invoking", "o", {}),
]

(WHO, NOW, EPOCH, STATE, NEXT, NEXT_IN, DESTROY, ZONE, KEY, SPACE, DEBUG,
 CONTEXT, INVOKING) = range(len(HIDDEN))
SEQ = EPOCH  # what the slot holds now
PREEMPT_KEY = "#preempt"
BLOCKED_KEY = "#blocked"
# The payload kind of the SUSPEND `block;` compiles to (["$block"]); the runtime acts on it.
BLOCK_KIND = "$block"
FIRST_FIELD = len(HIDDEN)

# Principals are strings "agent@authority" (hashable map keys, scalar in snapshots).
NO_ONE = "?@?"
ANONYMOUS_AUTHORITY = "anonymous"
DEVELOPER_AUTHORITY = "adama"

# Records that can be table rows end with this hidden slot: 0 while detached,
# the table (a Record) while the row is in it, None once deleted.
OWNER_FIELD = "$owner"
DETACHED = 0


def principal(agent: str, authority: str = "") -> str:
    return f"{agent}@{authority}"


def as_principal(text: str) -> str:
    """A principal from text: "agent@authority", or a bare agent (empty authority)."""
    return text if "@" in text else f"{text}@"


def agent_of(p: str) -> str:
    return p.rpartition("@")[0] if "@" in p else p


def authority_of(p: str) -> str:
    return p.rpartition("@")[2] if "@" in p else ""
