"""Compact JSON text (no spaces, UTF-8 left as is), as the wire uses it.

`json.JSONEncoder.encode` builds a new C encoder on every call, which is
more than half of what encoding a small patch or reply costs; the server
and the workers encode one or more per message, so the C encoder here is
made once and called directly. Same output as
`json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode` for
everything the wire carries (no cycles: the circular-reference check is off).
"""
from __future__ import annotations

import json
from json import encoder as _json_encoder

_fallback = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _make():
    make = getattr(_json_encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return _fallback.encode
    # (markers, default, encoder, indent, key separator, item separator,
    #  sort_keys, skipkeys, allow_nan): what _fallback.iterencode passes.
    chunks = make(None, _fallback.default, _json_encoder.encode_basestring, None, ":", ",",
                  False, False, True)
    join = "".join

    def encode(value) -> str:
        return join(chunks(value, 0))

    return encode


encode = _make()

__all__ = ["encode"]
