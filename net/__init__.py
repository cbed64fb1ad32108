"""The viewer stream: what goes between a living document and the people
watching it.

`delta` is the server side (a viewer's plain view becomes an encoded view, and
two encoded views become the merge patch that goes on the wire); `view` is the
client side (a stream of patches rebuilds the plain view). Both are pure: no
document, no socket, no clock. spec/protocol.md is the contract they follow.
"""
from __future__ import annotations

from .delta import diff, encode_view
from .view import DeltaError, ViewState, apply_delta, materialize

__all__ = ["DeltaError", "ViewState", "apply_delta", "diff", "encode_view", "materialize"]
