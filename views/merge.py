"""Client side of the viewer stream: apply merge patches to an encoded view and
turn the encoded view back into the plain one (tables and lists as arrays).

The rules are RFC 7396 with one addition: a patch's "@o" is not stored as
sent but expanded against the order the client already holds, because its
ranges name positions in that order (spec/protocol.md, "Order arrays").
"""
from __future__ import annotations

from .delta import ESCAPE, ORDER, SIZE

_ABSENT = object()


class DeltaError(ValueError):
    """A patch that does not fit the view it was applied to: a lost or
    reordered frame, or a server bug. The client should reconnect and start
    from a full view."""


def apply_delta(encoded: dict, delta: dict) -> dict:
    """Merge `delta` into `encoded` in place and return it.

    Cost is proportional to the patch, plus the table's size when a patch
    reorders a table. Nothing of `delta` is kept by reference, so the caller
    may reuse or mutate the patch afterwards (in one process the patch shares
    subtrees with the server's view).
    """
    if type(delta) is not dict:
        raise DeltaError(f"a delta is a JSON object, not {type(delta).__name__}")
    if type(encoded) is not dict:
        raise DeltaError(f"an encoded view is a JSON object, not {type(encoded).__name__}")
    _merge(encoded, delta)
    return encoded


def _merge(target: dict, patch: dict) -> None:
    order = _ABSENT
    membership = False
    for key, value in patch.items():
        if key == ORDER:
            # applied last: its ranges refer to the order before this patch
            order = value
        elif value is None:
            if target.pop(key, _ABSENT) is not _ABSENT:
                membership = True
        elif type(value) is dict:
            child = target.get(key)
            if type(child) is not dict:
                if child is None:
                    membership = True
                child = target[key] = {}
            _merge(child, value)
        else:
            if key not in target:
                membership = True
            target[key] = _clone(value)
    if order is not _ABSENT:
        if order is None:
            target.pop(ORDER, None)
        else:
            target[ORDER] = _expand(target.get(ORDER), order)
        membership = True
    if membership and ORDER in target:
        _check_table(target)


def _clone(value):
    # an encoded view holds no arrays besides "@o" (expanded, never cloned), so
    # arrays come only from generic merge patches; scalars are immutable
    if type(value) is list:
        return [_clone(item) for item in value]
    if type(value) is dict:
        return {key: _clone(item) for key, item in value.items()}
    return value


def _expand(prior, instructions) -> list:
    if type(instructions) is not list:
        raise DeltaError(f'"{ORDER}" must be an array, not {type(instructions).__name__}')
    order = []
    for step in instructions:
        kind = type(step)
        if kind is int:
            order.append(step)
        elif (
            kind is list
            and len(step) == 2
            and type(step[0]) is int
            and type(step[1]) is int
        ):
            start, end = step
            if prior is None or not 0 <= start <= end < len(prior):
                size = "no prior order" if prior is None else f"{len(prior)} rows"
                raise DeltaError(f'"{ORDER}" range {step} does not fit the prior order ({size})')
            order.extend(prior[start : end + 1])
        else:
            raise DeltaError(f'"{ORDER}" holds row ids and [start, end] ranges, not {step!r}')
    return order


def _check_table(table: dict) -> None:
    order = table[ORDER]
    rows = len(table) - 1
    if (
        rows != len(order)
        or len(set(order)) != rows
        or any(str(rid) not in table for rid in order)
    ):
        raise DeltaError(
            f'table rows and "{ORDER}" disagree: {rows} rows, order {order[:20]}'
        )


def materialize(encoded):
    """The plain view an encoded view stands for (a fresh tree)."""
    if type(encoded) is not dict:
        return encoded
    order = encoded.get(ORDER)
    if order is not None:
        try:
            return [materialize(encoded[str(rid)]) for rid in order]
        except KeyError as missing:
            raise DeltaError(f'"{ORDER}" names row {missing} that the table lacks') from None
    size = encoded.get(SIZE)
    if size is not None:
        if type(size) is not int or size < 0:
            raise DeltaError(f'"{SIZE}" is a list length, not {size!r}')
        get = encoded.get
        # an index with no entry held null (or a NaN/infinite double)
        return [materialize(get(str(index))) for index in range(size)]
    plain = {}
    for key, value in encoded.items():
        if key[:1] == ESCAPE:
            if key[1:2] != ESCAPE:
                raise DeltaError(f"reserved key {key!r} in an object that is not a list")
            key = key[1:]
        plain[key] = materialize(value)
    return plain


class ViewState:
    """One viewer's copy of its view on the client: the encoded view the
    patches apply to, the last sequence number, and the plain view on demand."""

    __slots__ = ("encoded", "seq", "_plain")

    def __init__(self) -> None:
        self.encoded: dict = {}
        self.seq: int | None = None
        self._plain = None

    def reset(self) -> None:
        """Forget everything: the next frame (after a reconnect) is a full view."""
        self.encoded = {}
        self.seq = None
        self._plain = None

    def apply(self, delta: dict, seq: int | None = None) -> None:
        """Apply one frame's patch. `seq` must grow strictly on a connection;
        gaps are normal (a viewer gets no frame when it sees no change)."""
        if seq is not None:
            if type(seq) is not int:
                raise DeltaError(f"seq is an integer, not {type(seq).__name__}")
            if self.seq is not None and seq <= self.seq:
                raise DeltaError(f"frame seq {seq} after seq {self.seq}: repeated or reordered")
        apply_delta(self.encoded, delta)
        if seq is not None:
            self.seq = seq
        self._plain = None

    @property
    def view(self):
        """The plain view; cached until the next patch, so treat it as read-only."""
        if self._plain is None:
            self._plain = materialize(self.encoded)
        return self._plain
