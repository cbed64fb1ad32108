"""Per-viewer filtering (views/privacy.py): each privacy rule of spec/protocol.md
section 9 on one document, read both from scratch and through the frames a
Viewers instance sends."""
from __future__ import annotations

import pytest
from runkit import ALICE, BOB, CAROL, T0, document
from viewkit import Clients, assert_current, source

from advm.views.privacy import Schema, render_view
from advm.views.viewers import Viewers

BOB_AGENT = {"agent": "bob", "authority": "users"}


@pytest.fixture
def cards():
    """alice owns the document; bob holds card 1, alice holds card 2 (dealt by
    bob with `mine: false`, so it goes to the owner); both are pinned."""
    d = document(source("cards.adb"), who=ALICE)
    d.send(BOB, "deal", {"rank": 3, "secret": "s1", "note": "n1", "mine": True}, now=T0 + 1)
    d.send(BOB, "deal", {"rank": 4, "secret": "s2", "note": "n2", "mine": False}, now=T0 + 2)
    d.send(BOB, "pin", {"id": 1})
    d.send(BOB, "pin", {"id": 2})
    return d


def card(view: dict, rid: int) -> dict:
    return next(row for row in view["cards"] if row["id"] == rid)


def test_document_fields_follow_their_modifiers(cards):
    owner, other = render_view(cards, ALICE), render_view(cards, BOB)
    assert "vault" not in owner and "owner" not in owner  # private (the default too)
    assert owner["owner_only"] == 42 and "owner_only" not in other  # viewer_is<owner>
    assert owner["policy_only"] == 43 and "policy_only" not in other  # use_policy<is_owner>
    assert owner["hide_all"] is False and other["ratio"] == 0.5  # public


def test_rows_carry_their_id_even_when_it_is_private(cards):
    view = render_view(cards, CAROL)
    assert [row["id"] for row in view["cards"]] == [1, 2]
    # a record that is not an item of a list keeps its id private
    assert "id" not in view["first_card"]


def test_record_fields_follow_their_modifiers(cards):
    bob, alice, carol = (render_view(cards, w) for w in (BOB, ALICE, CAROL))
    assert card(bob, 1)["rank"] == 3 and "rank" not in card(alice, 1)  # viewer_is<holder> (record field)
    assert card(alice, 1)["owner_note"] == "n1"  # viewer_is<owner> (document field)
    assert "owner_note" not in card(bob, 1)
    assert card(bob, 1)["secret"] == "s1" and "secret" not in card(carol, 1)  # record policy
    assert card(alice, 1)["for_owner"] == "n1" and "for_owner" not in card(bob, 1)  # document policy
    assert "holder" not in card(bob, 1) and "hidden_f" not in card(bob, 1)  # private field, formula
    assert card(carol, 1)["double_rank"] == 6  # a public formula shows what it computes


def test_nested_records_are_filtered_too(cards):
    assert card(render_view(cards, ALICE), 1)["inner"] == {"n": 0, "tip": ""}
    assert card(render_view(cards, BOB), 1)["inner"] == {"n": 0}


def test_record_bubbles_are_computed_per_viewer(cards):
    assert card(render_view(cards, BOB), 1)["mine"] is True
    assert card(render_view(cards, ALICE), 1)["mine"] is False
    assert render_view(cards, BOB)["my_count"] == 1
    assert render_view(cards, CAROL)["my_count"] == 0


def test_require_hides_rows_map_entries_and_values(cards):
    cards.send(BOB, "hide", {"on": True})
    bob, alice, carol = (render_view(cards, w) for w in (BOB, ALICE, CAROL))
    assert [row["id"] for row in bob["cards"]] == [1]
    assert [row["id"] for row in alice["cards"]] == [2]
    assert carol["cards"] == []
    assert list(bob["pinned"]) == ["1"] and list(alice["pinned"]) == ["2"] and carol["pinned"] == {}
    assert "first_card" in bob and "first_card" not in alice  # card 1 as a single value


def test_value_shapes(cards):
    view = render_view(cards, CAROL)
    assert view["big"] == "9007199254740993"  # longs travel as strings
    assert view["pair"] == {"a": 1, "b": "9007199254740993"}  # inside anonymous objects too
    assert view["who_last"] == BOB_AGENT
    assert card(view, 1)["suit"] == "Hearts"
    assert "age" not in view  # an empty maybe is absent


def test_frames_match_the_reference_for_every_viewer(cards):
    views = Viewers(cards)
    clients = Clients()
    for who in (ALICE, BOB, CAROL):
        clients.feed(views.connect(who))
    cards.send(BOB, "hide", {"on": True}, now=T0 + 3)
    clients.feed(views.after_commit())
    cards.send(ALICE, "deal", {"rank": 9, "secret": "s3", "note": "n3", "mine": True}, now=T0 + 4)
    clients.feed(views.after_commit())
    for who in (ALICE, BOB, CAROL):
        assert_current(cards, clients, who)
    assert views.plain_view(BOB) == render_view(cards, BOB)


def test_schema_knows_which_types_vary_per_viewer(cards):
    schema = Schema(cards.meta)
    assert schema.varies(["list", ["record", "Card"]])
    assert schema.varies(["record", "Inner"])  # viewer_is<owner>
    assert not schema.varies(["map", "string", "int"])
    assert "hide_all" in schema.records["Card"].doc_deps  # through the require policy
    assert "owner" in schema.records["Card"].doc_deps  # through viewer_is<owner> and is_owner
    assert not schema.records["Card"].maskable  # a record bubble: rows are per viewer
