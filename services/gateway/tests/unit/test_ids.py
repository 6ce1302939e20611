"""Ids the gateway hands out are never mistaken for card numbers when they come back."""

from __future__ import annotations

from booking_shared.pan import looks_like_pan
from gateway.domain import ids


def test_an_id_whose_hex_spells_a_card_number_is_drawn_again(monkeypatch):
    # qt_1a237f32904996012022e6c came back from GET /v1/quotes/{id} as a card number (422).
    draws = iter(["996012022e6c", "abcdefabcdef"])
    monkeypatch.setattr(ids.time, "time", lambda: 0x1A237F32904 / 1000)
    monkeypatch.setattr(ids.secrets, "token_hex", lambda n: next(draws))
    assert looks_like_pan("qt_1a237f32904996012022e6c")
    assert ids.new_id("qt") == "qt_1a237f32904abcdefabcdef"


def test_ids_keep_their_prefix_and_shape():
    made = {ids.new_id("bk") for _ in range(200)}
    assert len(made) == 200
    assert all(i.startswith("bk_") and len(i) == 26 and not looks_like_pan(i) for i in made)
