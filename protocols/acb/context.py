"""What every use-case builder shares: the build context, the use-case spec and DUIS readers.

Used by the payload families (L{protocols.acb.dlms_usecases}, L{protocols.acb.gbz_usecases},
L{protocols.acb.asn1_usecases}) and by L{protocols.acb.usecases}, which maps DUIS service
reference variants onto them.
"""

from __future__ import annotations

import datetime
import functools
import random
from dataclasses import dataclass
from typing import Callable

from protocols.gbcs import catalogue

from .request import INVALID, Body, RequestError, TransformRequest

__all__ = ["BuildContext", "Builder", "UseCaseSpec", "catalogue_name", "read_period", "digits", "clock_window",
           "index_of", "new_cin"]


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What a payload builder may use.

    @ivar counter: the GBCS originator counter of the command being built.
    @ivar decrypting_party: who will decrypt sensitive response parts (the business originator).
    @ivar now: the DCC's current time (injected clock).
    @ivar rng: the DCC's injected randomness (values the DCC makes up, e.g. a CIN).
    """

    request: TransformRequest
    body: Body
    counter: int
    decrypting_party: int
    now: datetime.datetime
    message_code: int
    rng: random.Random


#: A builder returns the payload tree, or the payload bytes when it encodes them itself.
Builder = Callable[[BuildContext], "dict | bytes"]


@dataclass(frozen=True, slots=True)
class UseCaseSpec:
    """How one GBCS use case is built.

    @ivar name: GBCS use-case name (its message code comes from the catalogue).
    @ivar build: payload tree builder.
    @ivar acb_originated: the ACB is the grouping-header originator (user as supplementary
        remote party).
    @ivar acb_own_account: the ACB originates the command on its own account (no supplementary
        remote party): the security credential reads it answers from its own trust anchor.
    @ivar unknown_remote_party: the read has a "URP" form: with DUIS
        C{KAPublicSecurityCredentials} the ACB originates it and carries the user's KA
        certificate in other-information, so the device can encrypt for the user.
    @ivar acb_signed: a command of a critical message type that the ACB originates and signs
        with its own DS key (the non-critical join / unjoin services of a PPMID or HCALCS):
        no pre-command for the user, the command goes out signed and MACed.
    """

    name: str
    build: Builder
    acb_originated: bool = False
    unknown_remote_party: bool = False
    acb_own_account: bool = False
    acb_signed: bool = False

    @property
    def message_code(self) -> int:
        return _message_code(catalogue_name(self.name))


@functools.cache
def _message_code(name: str) -> int:
    found = catalogue.use_case_by_name(name)
    if not found:
        raise KeyError(f"use case {name} has no message code in the catalogue")
    return found[0].message_code


#: GBCS message codes whose names the catalogue spells differently from the DUIS variants.
_CATALOGUE_NAME = {"ECS62Add": "ECS62", "ECS62Remove": "ECS62", "ECS70Commission": "ECS70",
                   "GCS28Commission": "GCS28", "CS02aMAC": "CS02a", "CS02fMAC": "CS02f",
                   "ECS02Twin": "ECS02", "ECS03Twin": "ECS03", "ECS47Activate": "ECS47", "ECS47Reset": "ECS47",
                   "CS04ACCritical": "CS04AC", "CS04ACNonCritical": "CS04AC"}


def catalogue_name(name: str) -> str:
    """The GBCS catalogue name of a use case (ECS62Add / ECS62Remove are both ECS62; the
    commissioning forms of DUIS 8.1.1 are the ECS70 / GCS28 clock use cases; ECS02Twin /
    ECS03Twin are ECS02 / ECS03 on a twin-element ESME)."""
    return _CATALOGUE_NAME.get(name, name)


def read_period(ctx: BuildContext) -> tuple[datetime.datetime, datetime.datetime]:
    p = ctx.body.require("ReadLogPeriod")
    start, end = p.datetime("StartDateTime"), p.datetime("EndDateTime")
    if end < start:
        raise RequestError(INVALID, f"{p.path}.EndDateTime", "before StartDateTime")
    return start, end


def digits(node: Body) -> bytes:
    """An MPAN / MPRN: ASCII digits."""
    if not node.text.isascii() or not node.text.isdigit():
        raise RequestError(INVALID, node.path, "must be decimal digits")
    return node.text.encode("ascii")


def clock_window(ctx: BuildContext) -> tuple[datetime.datetime, datetime.datetime]:
    """DUIS CurrentDateTime and TolerancePeriod (s): the window in which the device takes the time."""
    current = ctx.body.datetime("CurrentDateTime")
    tolerance = ctx.body.int("TolerancePeriod", 0, 0xFFFFFFFF)
    try:
        return current, current + datetime.timedelta(seconds=tolerance)
    except OverflowError:
        raise RequestError(INVALID, f"{ctx.body.path}.TolerancePeriod", "window beyond the calendar") from None


def index_of(node: Body, lo: int, hi: int) -> int:
    raw = node.element.get("index", "")
    if not raw.isascii() or not raw.isdigit() or not lo <= int(raw) <= hi:
        raise RequestError(INVALID, f"{node.path}@index", f"must be {lo} to {hi}")
    return int(raw)


#: The Customer Identification Number the DCC makes for SRV 9.1: four decimal digits (ASCII).
CIN_DIGITS = 4


def new_cin(ctx: BuildContext) -> bytes:
    """A new CIN from the DCC's injected randomness (returned to the user in the DUIS response)."""
    return "".join(str(ctx.rng.randrange(10)) for _ in range(CIN_DIGITS)).encode("ascii")
