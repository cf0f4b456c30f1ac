"""Asking the trust centre for an application link key (ZigBee PRO 05-3474 4.4.9.5 Request
Key, key type 0x02 "application link key" with the partner's EUI-64; the key arrives in a
Transport Key of key type 0x03, 4.4.9.2.3).

One L{LinkKeyRequest} machine (automat typed builder) per partner:

    idle --request--> requesting (timer KEY_REQUEST_TIMEOUT) --key_arrived--> idle (waiters: True)
    requesting --timeout--> idle (waiters: False)
    requesting --request--> requesting (one more waiter; no second Request Key)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from automat import TypeMachineBuilder

from protocols.zigbee import aps as _aps
from protocols._statetimer import StateTimer as _Timed

KEY_REQUEST_TIMEOUT = 15.0  # s
#: Request Key key type for an application link key (4.4.9.5.1, Table 4.16)
REQUEST_KEY_TYPE_APP_LINK = 0x02


class KeyRequestLower(Protocol):
    def send_request_key(self, cmd: _aps.RequestKey) -> None: ...
    def count(self, reason: str) -> None: ...


class LinkKeyRequestInputs(Protocol):
    def request(self, on_done: Callable[[bool], None]) -> None:
        "Someone needs the key (C{on_done(ok)} when it is there or not)."

    def key_arrived(self) -> None:
        "The trust centre's Transport Key for this partner arrived."

    def timeout(self) -> None:
        "The state's timer expired."


@dataclass
class LinkKeyRequestCore:
    clock: Any
    lower: KeyRequestLower
    partner: int
    waiters: list = field(default_factory=list)


def _build():
    b = TypeMachineBuilder(LinkKeyRequestInputs, LinkKeyRequestCore)

    def timer(inputs: LinkKeyRequestInputs, core: LinkKeyRequestCore, on_done) -> _Timed:
        return _Timed(core.clock.callLater(KEY_REQUEST_TIMEOUT, inputs.timeout))

    idle = b.state("idle")
    requesting = b.state("requesting", timer)

    @idle.upon(LinkKeyRequestInputs.request).to(requesting)
    def ask(inputs: LinkKeyRequestInputs, core: LinkKeyRequestCore, on_done) -> None:
        core.waiters.append(on_done)
        core.lower.send_request_key(_aps.RequestKey(REQUEST_KEY_TYPE_APP_LINK, core.partner))

    @requesting.upon(LinkKeyRequestInputs.request).loop()
    def wait_too(inputs: LinkKeyRequestInputs, core: LinkKeyRequestCore, data: _Timed, on_done) -> None:
        core.waiters.append(on_done)

    @requesting.upon(LinkKeyRequestInputs.key_arrived).to(idle)
    def arrived(inputs: LinkKeyRequestInputs, core: LinkKeyRequestCore, data: _Timed) -> None:
        data.cancel()
        waiters, core.waiters = core.waiters, []
        for waiter in waiters:
            waiter(True)

    @requesting.upon(LinkKeyRequestInputs.timeout).to(idle)
    def gave_up(inputs: LinkKeyRequestInputs, core: LinkKeyRequestCore, data: _Timed) -> None:
        data.cancel()
        waiters, core.waiters = core.waiters, []
        for waiter in waiters:
            core.lower.count("link_key_timeout")
            waiter(False)

    idle.upon(LinkKeyRequestInputs.key_arrived).loop().returns(None)
    idle.upon(LinkKeyRequestInputs.timeout).loop().returns(None)
    return b.build()


LinkKeyRequest = _build()


def make_link_key_request(clock, lower: KeyRequestLower, partner: int) -> LinkKeyRequestInputs:
    return LinkKeyRequest(LinkKeyRequestCore(clock, lower, partner))
