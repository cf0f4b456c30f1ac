"""The ACB's delivery rules on a virtual clock: queue while a CSP is down, retry refused sends
with backoff, time out at the target response time, finish on the response."""

from __future__ import annotations

import pytest

from emulator.clock import VirtualClock
from protocols.acb.delivery import ANSWERED, TIMED_OUT, DeliveryQueue


class Transport:
    """Records sends; refuses while C{refuse} is set."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, str, bytes]] = []
        self.refuse = False
        self.clock = None

    def __call__(self, csp: str, command: bytes) -> None:
        if self.refuse:
            raise ConnectionError("CSP gateway refused")
        self.sent.append((self.clock.seconds(), csp, command))


@pytest.fixture
def setup():
    clock = VirtualClock()
    transport = Transport()
    transport.clock = clock
    outcomes = []
    q = DeliveryQueue(clock, transport, outcomes.append, retry_base=5.0, retry_cap=40.0)
    return clock, transport, outcomes, q


def test_commands_wait_for_the_link_and_go_in_order(setup):
    clock, transport, outcomes, q = setup
    for i in range(3):
        assert q.enqueue(("u", i), "north", b"cmd%d" % i, deadline=3600)
    assert transport.sent == [] and q.state_of(("u", 0)) == "queued"
    clock.advance(1800)
    q.link("north", True)
    assert [c for _, _, c in transport.sent] == [b"cmd0", b"cmd1", b"cmd2"]
    assert q.state_of(("u", 1)) == "in_flight"
    assert q.response(("u", 1))
    assert outcomes[0].result == ANSWERED and outcomes[0].key == ("u", 1) and outcomes[0].attempts == 1
    assert not q.response(("u", 1))          # a duplicate response matches nothing
    clock.advance(1800)
    assert sorted((o.key, o.result) for o in outcomes[1:]) == [(("u", 0), TIMED_OUT), (("u", 2), TIMED_OUT)]
    assert len(q) == 0


def test_an_hour_long_outage_times_out_what_cannot_wait(setup):
    clock, transport, outcomes, q = setup
    q.link("south", True)
    q.link("north", False)
    q.enqueue("short", "north", b"a", deadline=600)
    q.enqueue("long", "north", b"b", deadline=7200)
    q.enqueue("other-csp", "south", b"c", deadline=600)
    assert [c for _, _, c in transport.sent] == [b"c"]
    clock.advance(3600)
    assert [(o.key, o.result, o.attempts) for o in outcomes] == [("short", TIMED_OUT, 0), ("other-csp", TIMED_OUT, 1)]
    q.link("north", True)
    assert transport.sent[-1] == (3600.0, "north", b"b")
    q.response("long")
    assert outcomes[-1].result == ANSWERED and len(q) == 0


def test_refused_sends_back_off_exponentially_until_the_deadline(setup):
    clock, transport, outcomes, q = setup
    q.link("centre", True)
    transport.refuse = True
    q.enqueue("k", "centre", b"x", deadline=100)
    assert q.state_of("k") == "backing_off"
    clock.advance(5)                      # retry 1 after 5 s, refused, then 10 s, 20 s, 40 s (cap)
    clock.advance(10)
    assert q.state_of("k") == "backing_off"
    transport.refuse = False
    clock.advance(20)
    assert transport.sent == [(35.0, "centre", b"x")] and q.state_of("k") == "in_flight"
    clock.advance(65)
    assert [(o.result, o.attempts, o.at) for o in outcomes] == [(TIMED_OUT, 4, 100.0)]


def test_a_response_while_backing_off_ends_the_command(setup):
    clock, transport, outcomes, q = setup
    q.link("centre", True)
    transport.refuse = True
    q.enqueue("k", "centre", b"x", deadline=100)
    q.response("k")
    clock.advance(200)
    assert [(o.result, o.attempts) for o in outcomes] == [(ANSWERED, 1)]
    assert transport.sent == []           # the pending retry was cancelled


def test_the_table_is_bounded_and_keys_are_unique(setup):
    clock, transport, outcomes, q = setup
    small = DeliveryQueue(clock, transport, outcomes.append, max_commands=2)
    assert small.enqueue(1, "n", b"", 10) and small.enqueue(2, "n", b"", 10)
    assert not small.enqueue(3, "n", b"", 10)
    assert not small.enqueue(1, "n", b"", 10)
    small.send_failed(99)                 # unknown keys are ignored
    assert small.state_of(99) is None


def test_a_long_outage_does_not_grow_the_queue_without_bound(setup):
    clock, transport, outcomes, q = setup
    for i in range(2000):
        q.enqueue(i, "north", b"x", deadline=clock.seconds() + 10)
        clock.advance(1)
    assert len(q) <= 11 and len(outcomes) >= 1989
    assert len(q._waiting["north"]) <= 2 * len(q) + 64 + 1
    q.link("north", True)
    assert len(transport.sent) == len(q)
