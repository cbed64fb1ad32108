"""What a loaded document costs in memory, estimated (spec/runtime.md 7.1).

A document's memory is estimated from the size of its snapshot, which
holds every value it keeps (tables, fields, viewers, queue) once:

    estimate(snapshot_bytes) = BASE_BYTES + PER_SNAPSHOT_BYTE * snapshot_bytes

Measured with tracemalloc on a document restored from its snapshot (a chat
table of 100 to 6,000 rows; bench/README.md, issue 23): about 17 KB with no
rows, then 14-16 bytes of Python objects for each snapshot byte (a 6,000-row
document: a 142 KB snapshot, 2.0 MB in memory). The module's code is shared
by every document and not counted.

A server's shard measures a loaded document when it loads or is created,
after its 1st, 2nd, 4th ... 128th request (a new document often grows at
once), then every MEASURE_EVERY requests: one snapshot encoding each, about
1 ms for 6,000 rows. `advm snapshot inspect` shows the estimate of a stored
document. The router adds the estimates of each worker's documents up
against its memory budget (net/router.py, spec/protocol.md 8.8)."""
from __future__ import annotations

BASE_BYTES = 16_384
PER_SNAPSHOT_BYTE = 15
MEASURE_EVERY = 256  # inputs between two measurements of a loaded document


def estimate(snapshot_bytes: int) -> int:
    """The bytes a document whose snapshot is `snapshot_bytes` long holds when loaded."""
    return BASE_BYTES + PER_SNAPSHOT_BYTE * snapshot_bytes


def measure(living) -> int:
    """The estimate for a loaded runtime document (runtime/living.py LivingDocument)."""
    return estimate(len(living.snapshot()))


__all__ = ["BASE_BYTES", "MEASURE_EVERY", "PER_SNAPSHOT_BYTE", "estimate", "measure"]
