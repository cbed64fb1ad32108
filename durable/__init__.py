"""advm.durable: durability, what uses the store (spec/store.md part two).

A living document whose inputs are logged before their effects are seen
(`document.DurableDocument`, the output gate), inputs as log entries and
back (`inputs`), replay with no views (`replay`, `noviews`), inspection
(`inspect`) and export and import of one document (`transfer`). It stands
on the runtime (runtime/) and on the LMDB store (store/), which knows
nothing of it."""
