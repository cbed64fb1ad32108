"""Serving living documents: the layer on top of the runtime, the views and
durability (README, Layout).

`router` (many documents, asleep when idle, woken by their timers),
`runners`/`worker`/`shard` (where documents run: worker processes or a
thread; `messages`, everything the router and a worker say to each other),
`documents` (in memory, or durable on the store), `server` (the WebSocket
protocol), `tokens` (identity) and `client` (asyncio client library). Import those by name: this package imports nothing, so that a tool
that needs one of them does not pay for the server.

The viewer stream's encoding (encoded views, deltas, the reference client's
merge) is the views layer's: `advm.views`.
"""
