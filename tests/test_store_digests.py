"""Frames digests (store/inputs.py): the cache by repr gives the digest of the
definition (canonical CBOR of the decided frames, BLAKE2b-64) every time."""
from __future__ import annotations

import hashlib

import cbor2

from advm.store import inputs


def defined(frames: list) -> bytes:
    kept = [f for f in frames if "delta" not in f]
    return hashlib.blake2b(cbor2.dumps(kept, canonical=True), digest_size=8).digest()


def test_cached_digests_are_the_defined_ones():
    cases = [[], [{"to": "a@b", "delta": {"x": 1}}], [{"to": "a@b", "connected": True}],
             [{"to": "a@b", "connected": 1}], [{"to": "a@b", "error": {"code": "abort"}}],
             [{"error": {"code": "abort"}, "to": "a@b"}],  # same value, other key order
             [{"to": "a@b", "ask": {"n": 1.0}}], [{"to": "a@b", "ask": {"n": 1}}]]
    for _ in range(2):  # the second round comes from the cache
        for frames in cases:
            assert inputs.frames_digest(frames) == defined(frames), frames
    # equal values in another key order share the canonical digest; True and 1 do not
    assert inputs.frames_digest(cases[4]) == inputs.frames_digest(cases[5])
    assert inputs.frames_digest(cases[2]) != inputs.frames_digest(cases[3])


def test_the_cache_stays_bounded():
    for n in range(inputs._DIGESTS_MAX + 10):
        frames = [{"to": "a@b", "error": {"code": f"c{n}"}}]
        assert inputs.frames_digest(frames) == defined(frames)
    assert len(inputs._DIGESTS) <= inputs._DIGESTS_MAX
