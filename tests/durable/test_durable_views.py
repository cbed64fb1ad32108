"""Durability imports no views (issue 11, spec/README.md's layers): whoever
opens a durable document hands it the views factory, and a replayed runtime
(NoViewers) refuses to show a view rather than reach into views/."""
from __future__ import annotations

import pytest

from advm.durable.document import DurableDocument, rebuild
from advm.durable.noviews import NoViewers, NoViewsError
from advm.durable.replay import replay
from advm.store import Store
from advm.views.viewers import Viewers
from durable_kit import T0, Driver, example, script


def played(tmp_path):
    path = tmp_path / "store"
    with Store(path, durability="relaxed") as store:
        d = Driver(store, "main", example("tictactoe"), every=4)
        d.run(script("tictactoe"))
        d.doc.close()
    return path


def test_opening_a_durable_document_needs_its_views_factory(tmp_path):
    with Store(tmp_path / "s", durability="relaxed") as store:
        with pytest.raises(TypeError, match="viewers"):
            DurableDocument.create(store, "g", example("tictactoe"), "xena", None, T0)
        doc, _ = DurableDocument.create(store, "g", example("tictactoe"), "xena", None, T0, viewers=Viewers)
        doc.close()
        with pytest.raises(TypeError, match="viewers"):
            DurableDocument.open(store, "g")
        again = DurableDocument.open(store, "g", viewers=Viewers)
        assert again.living.viewers_factory is Viewers
        again.close()


def test_a_replayed_runtime_shows_no_view_and_one_rebuilt_with_views_does(tmp_path):
    path = played(tmp_path)
    with Store(path, readonly=True) as store:
        result = replay(store, "main", live_viewers=Viewers)
        assert result.ok, result.divergence
        assert result.living.viewers_factory is NoViewers
        who = result.living.connected[0]
        with pytest.raises(NoViewsError, match="computes no views"):
            result.living.view(who)
        rec = store.load("main")
        living, _ = rebuild(store, "main", rec.snapshot, rec.entries, viewers=Viewers)
        view = living.view(who)
        assert isinstance(view, dict) and view
