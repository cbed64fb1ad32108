"""The views layer: what each person watching a living document may see of it,
and the stream of patches that keeps their copy current (spec/protocol.md).

It sits on the document runtime and below durability and serving: it imports
the runtime and the machine, never the compiler, the store or the server
(pyproject.toml's import-linter contracts say so, and tests/test_layers.py
runs them).

- `privacy`: the module's privacy rules read once (`Schema`), and the
  reference renderer `render_view`, which evaluates everything from scratch;
- `reactive`: what a committed transaction changed (`ChangeTracker`, from the
  machine's undo logs) and document formulas kept until a dependency changes;
- `viewers`: `Viewers`, every connected viewer's view kept current as merge
  patches, with the caches that make a fan-out to thousands of viewers cheap;
- `delta`: the wire form of a view (the encoded view) and the one JSON diff
  that turns two encoded views into the patch a viewer is sent;
- `merge`: the other direction, applying patches to an encoded view and
  turning it back into the plain view. It is the reference client (the
  Python client in net/client.py and the JavaScript one are built on it), and
  it lives here rather than with the client because the server needs it too:
  the reference view is what an encoded view materializes to, and the two
  directions of one encoding stay in one place.

This package imports only the two pure parts (no document, no socket, no
clock); import the others by name.
"""
from __future__ import annotations

from .delta import diff, encode_view
from .merge import DeltaError, ViewState, apply_delta, materialize

__all__ = ["DeltaError", "ViewState", "apply_delta", "diff", "encode_view", "materialize"]
