"""The viewer stream: what goes between a living document and the people
watching it.

`delta` is the server side (a viewer's plain view becomes an encoded view, and
two encoded views become the merge patch that goes on the wire); `view` is the
client side (a stream of patches rebuilds the plain view). Both are pure: no
document, no socket, no clock. spec/protocol.md is the contract they follow.

The server is built on them: `host` (many documents, asleep when idle, woken by
their timers), `runners`/`worker`/`shard` (where documents run: worker
processes or a thread), `documents` (in memory, or durable on the store),
`server` (the WebSocket protocol), `tokens` (identity) and `client` (asyncio
client library). Import those by name; this package imports only the two above.
"""
from __future__ import annotations

from .delta import diff, encode_view
from .view import DeltaError, ViewState, apply_delta, materialize

__all__ = ["DeltaError", "ViewState", "apply_delta", "diff", "encode_view", "materialize"]
