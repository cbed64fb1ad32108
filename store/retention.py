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


def apply(policy: Retention, snap_cursor, log_cursor, prefix: bytes) -> tuple[int, int]:
    """Trim one document's history; returns (snapshots removed, entries removed)."""
    held = snapshots.seqs(snap_cursor, prefix)
    if not held:
        return 0, 0
    removed_snaps = 0
    oldest = held[0]
    if policy.snapshots is not None and len(held) > policy.snapshots:
        oldest = snapshots.keep_newest(snap_cursor, prefix, policy.snapshots)
        removed_snaps = len(held) - policy.snapshots
    removed_entries = log.delete_through(log_cursor, prefix, oldest) if policy.trim_log else 0
    return removed_snaps, removed_entries
