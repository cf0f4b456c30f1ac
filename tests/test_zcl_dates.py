"""ZCL Date / Time of Day wildcards (0xFF = "any", ZCL 07-5123 2.6.2.19-20) and the calendar
recurrence built on them (ZSE D.9 season start dates and special days)."""

from __future__ import annotations

import datetime
import json

import pytest

from protocols.gbcs.payloads import zcl_commands
from protocols.zcl import types as T
from protocols.zcl.clusters import decode_command, encode_command
from protocols.zcl.se.calendar import active_season, special_day

S2C = 1


def test_season_date_ff_03_14_ff_is_every_year_20_march() -> None:
    raw = bytes.fromhex("FF0314FF")
    value, end = T.decode_json(T.DATE, raw)
    assert end == 4
    assert value == {"year": None, "month": 3, "day": 20, "day_of_week": None}
    assert json.loads(json.dumps(value)) == value       # explicit null in JSON
    assert T.encode_json(T.DATE, value) == raw
    d, _ = T.decode_value(T.DATE, raw)
    assert d.year is None and (d.month, d.day) == (3, 20)
    assert T.encode_value(T.DATE, d) == raw
    assert T.Date.from_fields(value) == d
    for year in (2024, 2031, 2155):
        assert d.matches(datetime.date(year, 3, 20))
        assert not d.matches(datetime.date(year, 3, 21))


def test_a_fixed_date_is_not_a_wildcard() -> None:
    raw = bytes((124, 12, 25, 3))   # Wednesday 25 December 2024
    value, _ = T.decode_json(T.DATE, raw)
    assert value == {"year": 2024, "month": 12, "day": 25, "day_of_week": 3}
    assert T.encode_json(T.DATE, value) == raw
    d = T.Date(*raw)
    assert d.matches(datetime.date(2024, 12, 25))
    assert not d.matches(datetime.date(2025, 12, 25))


def test_any_day_of_any_month_and_weekday_wildcards() -> None:
    every_first = T.Date(0xFF, 0xFF, 1, 0xFF)
    assert every_first.to_fields() == {"year": None, "month": None, "day": 1,
                                       "day_of_week": None}
    assert all(every_first.matches(datetime.date(2025, m, 1)) for m in range(1, 13))
    sundays = T.Date(0xFF, 0xFF, 0xFF, 7)
    assert sundays.matches(datetime.date(2025, 6, 1))          # a Sunday
    assert not sundays.matches(datetime.date(2025, 6, 2))


def test_time_of_day_wildcards() -> None:
    raw = bytes((0xFF, 30, 0, 0xFF))   # half past every hour
    value, _ = T.decode_json(T.TIME_OF_DAY, raw)
    assert value == {"hours": None, "minutes": 30, "seconds": 0, "hundredths": None}
    assert T.encode_json(T.TIME_OF_DAY, value) == raw
    tod = T.TimeOfDay(*raw)
    assert tod.matches(7, 30) and tod.matches(23, 30, 0, 99)
    assert not tod.matches(7, 31)


def _seasons_payload(entries: bytes) -> bytes:
    return (bytes.fromhex("01000000" "02000000" "03000000") + b"\x00\x01" + entries)


def test_publish_seasons_in_a_gbz_tree_and_on_the_air() -> None:
    # spring from 20 March every year (week 1), winter from 1 November every year (week 2)
    entries = bytes.fromhex("FF0314FF" "01" "FF0B01FF" "02")
    payload = _seasons_payload(entries)
    tree = zcl_commands.decode_zcl_payload(0x0707, 0x09, 0x03, payload)
    assert tree["SeasonEntries"] == [
        {"SeasonStartDate": {"year": None, "month": 3, "day": 20, "day_of_week": None},
         "WeekIDRef": 1},
        {"SeasonStartDate": {"year": None, "month": 11, "day": 1, "day_of_week": None},
         "WeekIDRef": 2}]
    assert zcl_commands.encode_zcl_payload(0x0707, 0x09, 0x03, tree) == payload
    air = decode_command(0x0707, S2C, 0x03, payload)
    assert air["SeasonEntries"][0]["SeasonStartDate"] == T.Date(0xFF, 3, 20, 0xFF)
    assert encode_command(0x0707, S2C, "PublishSeasons", **air) == payload
    # recurrence: the season in force on a day, in any year
    for entries_form in (tree["SeasonEntries"], air["SeasonEntries"]):
        assert active_season(entries_form, datetime.date(2026, 3, 19)) == 2   # winter wraps
        assert active_season(entries_form, datetime.date(2026, 3, 20)) == 1
        assert active_season(entries_form, datetime.date(2030, 10, 31)) == 1
        assert active_season(entries_form, datetime.date(2030, 11, 1)) == 2
        assert active_season(entries_form, datetime.date(2031, 1, 15)) == 2


def test_dated_seasons_do_not_recur() -> None:
    entries = [{"SeasonStartDate": T.Date(125, 4, 1, 0xFF), "WeekIDRef": 5}]
    assert active_season(entries, datetime.date(2025, 3, 31)) is None
    assert active_season(entries, datetime.date(2025, 4, 1)) == 5
    assert active_season(entries, datetime.date(2026, 1, 1)) == 5


def test_special_days_recur_on_wildcards() -> None:
    days = [{"SpecialDayDate": {"year": None, "month": 12, "day": 25, "day_of_week": None},
             "DayIDRef": 9},
            {"SpecialDayDate": {"year": 2026, "month": 5, "day": 4, "day_of_week": None},
             "DayIDRef": 8}]
    assert special_day(days, datetime.date(2027, 12, 25)) == 9
    assert special_day(days, datetime.date(2026, 5, 4)) == 8
    assert special_day(days, datetime.date(2027, 5, 4)) is None


@pytest.mark.parametrize("bad", [{"year": 1899, "month": 1, "day": 1, "day_of_week": None},
                                 {"year": 2155, "month": 1, "day": 1, "day_of_week": None},
                                 "not a date"])
def test_dates_out_of_range_are_codec_errors(bad) -> None:
    from protocols.errors import CodecError
    with pytest.raises(CodecError):
        T.encode_json(T.DATE, bad)
