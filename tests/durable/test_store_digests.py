"""Frames digests (durable/inputs.py): the cache by repr gives the digest of the
definition (a version byte, then BLAKE2b-64 of the canonical CBOR of the
decided frames, error texts left out) every time; format-3 entries (8 bytes,
texts in) still verify."""
from __future__ import annotations

import hashlib

import cbor2

from advm.durable import inputs


def decided(frames: list) -> list:
    kept = []
    for f in frames:
        if "delta" in f:
            continue
        if isinstance(f.get("error"), dict):
            f = {**f, "error": {k: v for k, v in f["error"].items() if k != "message"}}
        kept.append(f)
    return kept


def defined(frames: list) -> bytes:
    return b"\x02" + hashlib.blake2b(cbor2.dumps(decided(frames), canonical=True),
                                     digest_size=8).digest()


def format3(frames: list) -> bytes:
    kept = [f for f in frames if "delta" not in f]
    return hashlib.blake2b(cbor2.dumps(kept, canonical=True), digest_size=8).digest()


def entry(frames_logged: list, digest: bytes, who: str = "a@b"):
    return inputs.to_entry(1, {"op": "send", "who": who, "now": 0, "channel": "c",
                               "message": {}}, frames_logged, {"digest": digest})


def test_error_texts_do_not_decide():
    said = [{"to": "a@b", "error": {"code": "abort", "message": "/srv/x.adb:3:1: aborted"}}]
    now = [{"to": "a@b", "error": {"code": "abort", "message": "x.adb:3:1: the transaction aborted"}}]
    assert inputs.frames_digest(said) == inputs.frames_digest(now)
    other = [{"to": "a@b", "error": {"code": "assert", "message": "x.adb:3:1: aborted"}}]
    assert inputs.frames_digest(said) != inputs.frames_digest(other)
    assert inputs.digest_matches(entry(said, inputs.frames_digest(said)), now) is True
    assert inputs.digest_matches(entry(said, inputs.frames_digest(said)), other) is False


def test_format3_digests_still_verify():
    said = [{"to": "a@b", "error": {"code": "abort", "message": "/srv/x.adb:3:1: aborted"}}]
    now = [{"to": "a@b", "error": {"code": "abort", "message": "x.adb:3:1: the transaction aborted"}}]
    old = entry(said, format3(said))
    assert inputs.digest_matches(old, said) is True      # the same frames: the old rule holds
    assert inputs.digest_matches(old, now) is True       # only the error's wording changed
    # another outcome, or no error at all where one was sent, is a divergence
    assert inputs.digest_matches(old, [{"to": "a@b", "error": {"code": "assert"}}]) is False
    assert inputs.digest_matches(old, []) is False
    asked = [{"to": "a@b", "ask": {"id": 1}}]
    assert inputs.digest_matches(entry(asked, format3(asked)), asked) is True
    assert inputs.digest_matches(entry(asked, format3(asked)), [{"to": "a@b", "ask": {"id": 2}}]) is False


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
