"""The timer index: one wake time per document, found by one ordered scan."""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advm.store import Entry

T0 = 1_767_225_600_000


@pytest.fixture
def store(make_store):  # LMDB and PostgreSQL (tests/conftest.py make_store)
    return make_store(durability="relaxed")


def test_due_documents_come_earliest_first(store):
    rng = random.Random(7)
    wake = {f"doc{i}": T0 + rng.randrange(0, 10_000) for i in range(50)}
    for doc, due in wake.items():
        store.schedule(doc, due).result()
    expected = sorted((due, doc) for doc, due in wake.items())
    assert store.next_due() == expected[0]
    now = T0 + 5_000
    assert store.due(now) == [p for p in expected if p[0] <= now]
    assert store.due(now, limit=3) == [p for p in expected if p[0] <= now][:3]
    assert store.due(T0 - 1) == []


def test_rescheduling_replaces_and_clearing_removes(store):
    store.schedule("a", T0 + 100).result()
    store.schedule("b", T0 + 200).result()
    store.schedule("a", T0 + 300).result()
    assert store.due(T0 + 1000) == [(T0 + 200, "b"), (T0 + 300, "a")]
    assert store.timer("a") == T0 + 300
    store.schedule("b", None).result()
    assert store.due(T0 + 1000) == [(T0 + 300, "a")]
    assert store.timer("b") is None
    store.schedule("b", None).result()  # clearing twice is harmless
    store.schedule("a", None).result()
    assert store.next_due() is None


def test_timer_commits_with_the_transaction(store):
    store.commit("d", [Entry(1, T0, "create")], timer=T0 + 3_600_000).result()
    assert store.due(T0 + 3_600_000) == [(T0 + 3_600_000, "d")]
    with pytest.raises(ValueError):
        store.schedule("d", -1)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "ab", "\u00e9"]),
                          st.none() | st.integers(0, 2**40)), max_size=20))
def test_index_matches_a_model(store, ops):
    model = {doc: store.timer(doc) for doc in ("a", "b", "c", "ab", "\u00e9")}
    model = {k: v for k, v in model.items() if v is not None}
    for doc, due in ops:
        store.schedule(doc, due).result()
        if due is None:
            model.pop(doc, None)
        else:
            model[doc] = due
    expected = sorted((due, doc) for doc, due in model.items())
    assert store.due(2**41) == expected
    assert store.next_due() == (expected[0] if expected else None)
