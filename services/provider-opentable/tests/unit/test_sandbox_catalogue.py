"""The seeded catalogue and the cancellation policy: pure, no server."""

from __future__ import annotations

from provider_opentable.sandbox.catalogue import CancellationPolicy, build_catalogue


def test_the_same_seed_gives_the_same_catalogue():
    first, again, other = build_catalogue(42), build_catalogue(42), build_catalogue(7)
    assert [r.as_json() for r in first.values()] == [r.as_json() for r in again.values()]
    assert [r.as_json() for r in first.values()] != [r.as_json() for r in other.values()]


def test_the_catalogue_is_thirty_lisbon_restaurants_with_prices_in_minor_units():
    catalogue = build_catalogue(42)
    assert list(catalogue)[:2] == ["rest_001", "rest_002"] and len(catalogue) == 30
    assert len({r.name for r in catalogue.values()}) == 30
    for r in catalogue.values():
        assert r.city == "Lisbon" and r.time_zone == "Europe/Lisbon" and r.currency == "EUR"
        assert isinstance(r.price_per_cover, int) and r.price_per_cover >= 1500
        assert r.tables and all(count > 0 for count in r.tables.values())


def test_slots_are_every_quarter_hour_of_lunch_and_dinner():
    slots = [t.strftime("%H:%M") for t in build_catalogue(42)["rest_001"].slot_times()]
    assert slots[:2] == ["12:00", "12:15"] and "14:45" in slots and "15:00" not in slots
    assert "19:00" in slots and slots[-1] == "22:45" and len(slots) == 12 + 16


def test_a_party_sits_at_a_table_with_at_most_two_seats_spare():
    r = build_catalogue(42)["rest_001"]
    r.tables = {2: 1, 4: 1, 6: 1}
    assert r.fitting_sizes(1) == [2]
    assert r.fitting_sizes(2) == [2, 4]
    assert r.fitting_sizes(5) == [6]
    assert r.fitting_sizes(7) == []


def test_cancelling_inside_the_window_costs_the_policy_share_of_the_deposit():
    policy = CancellationPolicy(free_until_hours_before=24, late_fee_percent=50)
    assert policy.fee(9000, hours_before=24) == 0
    assert policy.fee(9000, hours_before=23.9) == 4500
    assert policy.fee(9000, hours_before=-1) == 4500
