"""How much history a document keeps: snapshots and the log before them.

Recovery needs only the newest snapshot and the log after it. Older
snapshots let `advm replay --until` start close to a point in history and
give a way back if the newest snapshot is damaged; the full log lets a
document be rebuilt from its first input. The policy is applied to a
document each time a snapshot of it is written, in the same transaction.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import log, snapshots


@dataclass(frozen=True)
class Retention:
    """`snapshots`: keep the newest N snapshots per document (None keeps all).
    `trim_log`: delete log entries at or before the oldest kept snapshot, so
    every kept snapshot can still be replayed forward to the head, but the
    document can no longer be rebuilt from its first input."""

    snapshots: int | None = 3
    trim_log: bool = False

    def __post_init__(self):
        if self.snapshots is not None and (type(self.snapshots) is not int or self.snapshots < 1):
            raise ValueError(f"Retention.snapshots must be None or >= 1, got {self.snapshots!r}")


KEEP_ALL = Retention(snapshots=None, trim_log=False)

# Under maximum_history, kept snapshots are about history / HISTORY_SPACING
# inputs apart: every one may become the log's cut later, and each costs its
# size on disk and one comparison in `advm replay`.
HISTORY_SPACING = 4


def plan(policy: Retention, held: list[int], history: int | None = None) -> tuple[list[int], int]:
    """What trimming one document removes, given the seqs of its snapshots
    (ascending): (snapshot seqs to delete, log cut: entries with seq <= cut
    go, 0 for none). Every backend applies this one rule.

    `history` is the document's own `@static maximum_history`: at most about
    that many inputs are kept before its newest snapshot. The log is cut at a
    snapshot (replay needs a state to start from): the newest one at least
    `history` inputs before the newest snapshot. Under a policy that keeps
    the log (`trim_log` False) the snapshots from that cut on are kept thinned
    to one per `history // HISTORY_SPACING` inputs (and the newest), whatever
    the policy's count says, since each becomes the cut later: so between
    `history` and about 1.25 `history` plus one snapshot interval is kept.
    Under a policy that trims the log, the later of the two cuts wins."""
    if not held:
        return [], 0
    cut = None
    if history is not None:
        cut = next((s for s in reversed(held) if s <= held[-1] - history), None)
        if not policy.trim_log:
            base = held[0] if cut is None else cut
            step = max(1, history // HISTORY_SPACING)
            kept: list[int] = []
            for s in held:
                if s >= base and (not kept or s - kept[-1] >= step or s == held[-1]):
                    kept.append(s)
            return sorted(set(held) - set(kept)), (cut or 0)
    oldest = held[0]
    if policy.snapshots is not None and len(held) > policy.snapshots:
        oldest = held[-policy.snapshots]
    if cut is not None and cut > oldest:
        oldest = cut
    return [s for s in held if s < oldest], (oldest if policy.trim_log else 0)


def apply(policy: Retention, snap_cursor, log_cursor, prefix: bytes,
          history: int | None = None) -> tuple[int, int]:
    """Trim one document's history in LMDB (plan() says what goes); returns
    (snapshots removed, entries removed)."""
    gone, cut = plan(policy, snapshots.seqs(snap_cursor, prefix), history)
    snapshots.delete_seqs(snap_cursor, prefix, gone)
    return len(gone), (log.delete_through(log_cursor, prefix, cut) if cut else 0)
