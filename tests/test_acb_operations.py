"""The ACB's operations, sans-IO: anomaly detection counts and the holding queue, DSP schedule
recurrences, DSP future-dated execution times, and alert ownership / entitlement."""

from __future__ import annotations

import datetime
import pathlib
import re

import pytest
from lxml import etree

from emulator.dcc.acb import alert_code_of, alert_facts, alert_owners, alert_recipients
from emulator.dcc.inventory import DeviceStatus, Inventory, InventoryDevice, ServiceUser
from protocols.acb.anomaly import AnomalyDetector, Quarantine, QuarantineFull, Thresholds
from protocols.acb.request import RequestError
from protocols.acb.schedule import Recurrence, Schedules, dsp_execution_time
from tests.duis_helpers import RTDS, require_shared

UTC = datetime.timezone.utc
SR = "http://www.dccinterface.co.uk/ServiceUserGateway"


def _t(*args) -> float:
    return datetime.datetime(*args, tzinfo=UTC).timestamp()


# ---------------------------------------------------------------- anomaly detection


def test_limits_come_from_the_user_then_the_service_reference_then_the_defaults():
    th = Thresholds(non_critical=100, critical=10, services={"4.1": 50}, users={7: {"4.1": 5, "*": 20}})
    assert th.limit(7, "4.1", False) == 5
    assert th.limit(7, "11.2", False) == 20
    assert th.limit(8, "4.1", False) == 50
    assert th.limit(8, "11.2", False) == 100
    assert th.limit(8, "6.15", True) == 10


@pytest.mark.parametrize("bad", [dict(window=0), dict(hold=-1), dict(critical=0), dict(services={"4.1": 0}),
                                 dict(non_critical=1.5)])
def test_thresholds_refuse_nonsense(bad):
    with pytest.raises(ValueError):
        Thresholds(**bad)


def test_requests_past_the_limit_in_the_rolling_window_are_anomalous():
    det = AnomalyDetector(Thresholds(window=600, non_critical=3))
    t0 = 1_000_000.0
    assert [det.observe(1, "4.1", False, t0 + i) for i in range(4)] == [None, None, None, 3]
    # another User, another service reference: counted apart
    assert det.observe(2, "4.1", False, t0 + 5) is None
    assert det.observe(1, "4.2", False, t0 + 5) is None
    assert det.count(1, "4.1", t0 + 10) == 4
    # the window rolls: once the first ones are older than the window they no longer count
    assert det.count(1, "4.1", t0 + 600 + 10) == 0
    assert det.observe(1, "4.1", False, t0 + 611) is None


def test_the_window_is_counted_in_bounded_memory():
    det = AnomalyDetector(Thresholds(window=60, non_critical=10 ** 9))
    for i in range(100_000):
        det.observe(1, "4.1", False, i * 0.01)
    assert len(det._counts[(1, "4.1")]) <= 61


def test_quarantine_holds_releases_rejects_and_expires_in_order():
    q = Quarantine(hold=100, max_held=2)
    q.hold("a", 1, "4.1", 4, 3, 0.0, "A")
    q.hold("b", 1, "4.1", 5, 3, 10.0, "B")
    with pytest.raises(QuarantineFull):
        q.hold("c", 1, "4.1", 6, 3, 20.0, "C")
    with pytest.raises(ValueError):
        q.hold("a", 1, "4.1", 6, 3, 20.0, "A")
    assert [h.key for h in q] == ["a", "b"]
    assert q.expire(99.0) == []
    [expired] = q.expire(100.0)
    assert (expired.key, expired.item, expired.until) == ("a", "A", 100.0)
    assert q.release("a") is None and q.release("b").item == "B" and len(q) == 0


# ---------------------------------------------------------------- schedules


def test_daily_recurrence_every_second_day_until_the_end_date():
    r = Recurrence(datetime.datetime(2026, 1, 2, 1, 30, tzinfo=UTC), datetime.date(2026, 1, 8), "Daily", 2)
    times, t = [], _t(2025, 12, 31)
    while (t := r.next_after(t)) is not None:
        times.append(t)
    assert times == [_t(2026, 1, 2, 1, 30), _t(2026, 1, 4, 1, 30), _t(2026, 1, 6, 1, 30), _t(2026, 1, 8, 1, 30)]
    # strictly after: an execution time itself gives the next one
    assert r.next_after(_t(2026, 1, 4, 1, 30)) == _t(2026, 1, 6, 1, 30)
    assert r.next_after(_t(2026, 1, 4, 1, 29)) == _t(2026, 1, 4, 1, 30)


def test_weekly_and_monthly_recurrences():
    weekly = Recurrence(datetime.datetime(2026, 3, 2, 0, 0, tzinfo=UTC), None, "Weekly", 1)
    assert weekly.next_after(_t(2026, 3, 20)) == _t(2026, 3, 23)
    monthly = Recurrence(datetime.datetime(2026, 1, 31, 12, 0, tzinfo=UTC), None, "Monthly", 1)
    t, got = _t(2026, 1, 1), []
    for _ in range(4):
        t = monthly.next_after(t)
        got.append(datetime.datetime.fromtimestamp(t, UTC).date())
    # a day the month does not have is its last day; the next month is back on the 31st
    assert got == [datetime.date(2026, 1, 31), datetime.date(2026, 2, 28), datetime.date(2026, 3, 31),
                   datetime.date(2026, 4, 30)]
    quarterly = Recurrence(datetime.datetime(2026, 1, 15, tzinfo=UTC), None, "Monthly", 3)
    assert quarterly.next_after(_t(2026, 2, 1)) == _t(2026, 4, 15)


@pytest.mark.parametrize("args", [("Hourly", 1), ("Daily", 0)])
def test_bad_recurrences_are_refused(args):
    with pytest.raises(ValueError):
        Recurrence(datetime.datetime(2026, 1, 1, tzinfo=UTC), None, *args)
    with pytest.raises(ValueError):
        Recurrence(datetime.datetime(2026, 1, 5, tzinfo=UTC), datetime.date(2026, 1, 4), "Daily", 1)


def test_schedule_table_moves_on_and_forgets_finished_schedules():
    table = Schedules(max_schedules=5)
    r = Recurrence(datetime.datetime(2026, 1, 1, tzinfo=UTC), datetime.date(2026, 1, 2), "Daily", 1)
    s = table.create(1, 2, "4.1.1", r, _t(2025, 12, 31), "item")
    assert (s.schedule_id, s.next_at) == (1, _t(2026, 1, 1))
    assert table.executed(1, _t(2026, 1, 1)).next_at == _t(2026, 1, 2)
    assert table.executed(1, _t(2026, 1, 2)).next_at is None
    assert table.get(1) is None and len(table) == 0
    assert table.create(1, 2, "4.1.1", r, _t(2025, 12, 31), "item").schedule_id == 2   # ids are not reused


def _body(xml: str):
    return etree.fromstring(f'<sr:X xmlns:sr="{SR}">{xml}</sr:X>')


def test_only_dsp_future_dated_requests_are_held_by_the_dsp():
    body = _body("<sr:ExecutionDateTime>2026-01-02T03:04:05Z</sr:ExecutionDateTime>")
    assert dsp_execution_time(body, "DSP") == _t(2026, 1, 2, 3, 4, 5)
    assert dsp_execution_time(body, "Device") is None          # the device's business (in the GBCS command)
    assert dsp_execution_time(body, "DSP & Device") is None
    assert dsp_execution_time(_body("<sr:Other/>"), "DSP") is None
    with pytest.raises(RequestError):
        dsp_execution_time(_body("<sr:ExecutionDateTime>tomorrow</sr:ExecutionDateTime>"), "DSP")
    with pytest.raises(RequestError):          # cancellation dates are for device future dating
        dsp_execution_time(_body("<sr:ExecutionDateTime>3000-12-31T00:00:00Z</sr:ExecutionDateTime>"), "DSP")


# ---------------------------------------------------------------- alerts

SUPPLIER, OLD_SUPPLIER, NETWORK, DCC, METER = 0x1001, 0x1002, 0x2001, 0x9000, 0x00DB000000000001


def _inventory() -> Inventory:
    inv = Inventory(DCC)
    for eui, roles in ((SUPPLIER, {"IS", "GS"}), (OLD_SUPPLIER, {"IS"}), (NETWORK, {"ED"})):
        inv.add_user(ServiceUser(eui, f"{eui:x}", frozenset(roles), ()))
    inv.add_device(InventoryDevice(METER, "ESME", DeviceStatus.COMMISSIONED, "h", "central",
                                   registration={"IS": SUPPLIER, "ED": NETWORK}))
    return inv


def test_alert_codes_are_owned_by_the_supplier_the_network_operator_or_both():
    assert alert_owners(0x8002) == ("network_operator",)     # average RMS over-voltage
    assert alert_owners(0x8014) == ("network_operator",)     # power factor threshold
    assert alert_owners(0x8F35) == ("supplier", "network_operator")   # supply outage restored
    assert alert_owners(0x81A0) == ("supplier",)             # smart meter integrity issue
    assert alert_owners(None) == ("supplier",)


def test_alerts_go_only_to_users_entitled_now():
    inv = _inventory()
    # addressed to a registered User: that User
    assert alert_recipients(inv, METER, NETWORK, 0x81A0) == [(NETWORK, "network_operator")]
    # addressed to the supplier before a change of supplier: the current supplier gets it
    assert alert_recipients(inv, METER, OLD_SUPPLIER, 0x81A0) == [(SUPPLIER, "supplier")]
    # addressed to the DCC: by alert-code ownership
    assert alert_recipients(inv, METER, DCC, 0x8002) == [(NETWORK, "network_operator")]
    assert alert_recipients(inv, METER, DCC, 0x8F35) == [(SUPPLIER, "supplier"), (NETWORK, "network_operator")]
    assert alert_recipients(inv, 0x1234, SUPPLIER, 0x81A0) == []           # not a device of the inventory
    # addressed to the DCC on behalf of a User (ECS100 for a command the ACB sent for it): that User
    assert alert_recipients(inv, METER, DCC, 0x8F85, on_behalf_of=SUPPLIER) == [(SUPPLIER, "supplier")]
    assert alert_recipients(inv, METER, DCC, 0x8F85, on_behalf_of=OLD_SUPPLIER) == [(SUPPLIER, "supplier")]


def test_alert_codes_are_read_from_the_rtds_alerts():
    """The alert code in each RTDS alert's payload is the one its file name gives (DCC's naming)."""
    require_shared()
    checked = 0
    for path in sorted(pathlib.Path(RTDS).glob("*/*ALERT*.HEX")):
        m = re.search(r"_([0-9A-F]{4})_", path.name)
        if m is None:
            continue
        code = alert_code_of(bytes.fromhex(path.read_text().strip()))
        assert code == int(m.group(1), 16), path.name
        checked += 1
    assert checked >= 10


def test_an_alert_names_the_user_it_is_for():
    """ECS100 to the ACB for a command the ACB sent on the supplier's behalf: the supplementary
    remote party of its other-information (RTDS NA_ECS100)."""
    require_shared()
    folder = pathlib.Path(RTDS) / "NA_ECS100"
    srp = alert_facts(bytes.fromhex((folder / "ECS100_NA_8F85_SUPPLEMENTARY_REMOTE_PARTY_ALERT_GBCS.HEX").read_text().strip()))
    plain = alert_facts(bytes.fromhex((folder / "ECS100_NA_8F85_ALERT_GBCS.HEX").read_text().strip()))
    assert (srp.alert_code, srp.on_behalf_of) == (0x8F85, 0x90B3D51F30010000)
    assert (plain.alert_code, plain.on_behalf_of) == (0x8F85, None)
