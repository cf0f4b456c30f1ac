"""The parsed DUIS service request the Access Control Broker works on.

The DUIS envelope (XML parsing, XML-DSig, schema checks) belongs to C{protocols.duis}; the
ACB only needs what DUIS puts in the header and the body element of one request (DUIS
section 3: C{RequestID} = business originator ID : business target ID : originator counter,
C{CommandVariant}, C{ServiceReference}, C{ServiceReferenceVariant}, body):

  - L{TransformRequest}: the small input type of L{protocols.acb.transform};
  - L{parse_request_id}: the C{RequestID} triple;
  - value readers for DUIS body leaves (dates, date-times, times, booleans, integers) that
    raise L{RequestError} naming the element that is wrong.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from protocols.duis.errors import DuisError
from protocols.duis.request import format_eui  # noqa: F401  (re-exported: one DUIS EUI form)
from protocols.duis.request import parse_request_id as parse_duis_request_id

__all__ = ["RequestError", "INVALID", "NOT_ELIGIBLE", "UNSUPPORTED", "BAD_SIGNATURE", "MISMATCH", "Body",
           "TransformRequest", "parse_request_id", "format_eui", "DUIS_NS",
           "COMMAND_VARIANT_NON_CRITICAL", "COMMAND_VARIANT_CRITICAL",
           "COMMAND_VARIANT_SIGNED_PRECOMMAND", "EPOCH_2000", "CANCELLATION_YEAR", "is_cancellation"]

#: The DUIS service user gateway namespace.
DUIS_NS = "http://www.dccinterface.co.uk/ServiceUserGateway"

#: DUIS CommandVariant values (DUIS 3.3.2): 1 non-critical to the device via the DCC,
#: 4 critical (the DCC returns the pre-command), 5 the signed pre-command.
COMMAND_VARIANT_NON_CRITICAL = 1
COMMAND_VARIANT_CRITICAL = 4
COMMAND_VARIANT_SIGNED_PRECOMMAND = 5

#: DUIS cancels a future-dated request by sending it again with an execution date-time this
#: far ahead (the templates use 3000-12-31): the command then carries "never".
CANCELLATION_YEAR = 3000

#: GBCS UTC time base (seconds since 2000-01-01T00:00:00Z).
EPOCH_2000 = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)

#: Failure kinds of L{RequestError} (mapped to DUIS response codes by the DUIS adapter).
INVALID = "invalid-request"
NOT_ELIGIBLE = "role-not-eligible"
UNSUPPORTED = "unsupported-by-transform"
BAD_SIGNATURE = "bad-signature"
MISMATCH = "precommand-mismatch"



class RequestError(ValueError):
    """A service request the ACB cannot act on.

    @ivar code: what kind of failure (L{INVALID}, L{NOT_ELIGIBLE}, L{UNSUPPORTED},
        L{BAD_SIGNATURE}, L{MISMATCH}); the DUIS adapter maps each kind to its response code.
    @ivar element: the DUIS element (dotted path) that is wrong, or "".
    @ivar reason: what is wrong.
    """

    def __init__(self, code: str, element: str, reason: str) -> None:
        self.code = code
        self.element = element
        self.reason = reason
        super().__init__(f"{code}: {element + ': ' if element else ''}{reason}")


def parse_request_id(text: str) -> tuple[int, int, int]:
    """DUIS RequestID C{originator:target:counter} -> (originator EUI, target EUI, counter).

    The one RequestID parser is DUIS's (L{protocols.duis.request.parse_request_id}); its
    refusal becomes a L{RequestError} naming the element.
    """
    try:
        rid = parse_duis_request_id(text or "")
    except DuisError as e:
        raise RequestError(INVALID, "Header.RequestID", e.reason) from None
    return rid.originator, rid.target, rid.counter


@dataclass(frozen=True, slots=True)
class TransformRequest:
    """One DUIS service request as the ACB sees it.

    @ivar service_reference_variant: e.g. C{"4.16"} or C{"1.1.1"}.
    @ivar body: the service request element (the child of C{sr:Body}), e.g. C{ReadActivePowerImport}.
    @ivar originator: business originator (the service user's EUI-64, from the RequestID).
    @ivar target: business target (the device's EUI-64, from the RequestID).
    @ivar counter: the originator counter (from the RequestID); becomes the GBCS originator
        counter of commands the user originates.
    @ivar device_type: the target's GBCS device type from the inventory (C{"ESME"}, C{"GSME"},
        C{"GPF"}, C{"CHF"}, C{"PPMID"}, C{"HCALCS"}).
    @ivar command_variant: DUIS CommandVariant (1 non-critical, 4 critical, ...).
    @ivar use_case: the inventory's choice among the GBCS use cases a variant maps to on this
        device type (e.g. C{"ECS26l"} for a meter with all billing periodicities), or C{None}
        for the default one.
    @ivar device_options: extra device facts from the inventory (e.g. C{{"polyphase": True}});
        C{"device_types"}: C{{EUI-64: device type}} of the other devices a request names (the
        device CCS01 adds to a CHF device log).
    """

    service_reference_variant: str
    body: Any
    originator: int
    target: int
    counter: int
    device_type: str
    command_variant: int = COMMAND_VARIANT_NON_CRITICAL
    use_case: str | None = None
    device_options: dict = field(default_factory=dict)

    @property
    def body_name(self) -> str:
        """Local name of the body element."""
        return local_name(self.body)


def local_name(element: Any) -> str:
    """Local name of an XML element (namespace stripped)."""
    tag = element.tag if isinstance(element.tag, str) else ""
    return tag.rsplit("}", 1)[-1]


class Body:
    """Read-only access to a DUIS body element by local names (namespace-agnostic).

    Paths are C{/}-separated local names; every reader raises L{RequestError} (L{INVALID}) naming
    the path when the element is missing or its text is not of the expected form.
    """

    __slots__ = ("element", "path")

    def __init__(self, element: Any, path: str | None = None) -> None:
        self.element = element
        self.path = path if path is not None else local_name(element)

    def _children(self, name: str) -> list:
        # "{*}name": any namespace, or none (ElementPath, in both lxml and the standard library;
        # the search runs in C, without a Python proxy per child)
        return self.element.findall("{*}" + name)

    def find(self, path: str) -> "Body | None":
        node = self
        for part in path.split("/"):
            found = node.element.find("{*}" + part)
            if found is None:
                return None
            node = Body(found, f"{node.path}.{part}")
        return node

    def all(self, path: str) -> list["Body"]:
        head, _, last = path.rpartition("/")
        parent = self.find(head) if head else self
        if parent is None:
            return []
        return [Body(c, f"{parent.path}.{last}") for c in parent._children(last)]

    def has(self, path: str) -> bool:
        return self.find(path) is not None

    def child_names(self) -> list[str]:
        return [local_name(c) for c in self.element if isinstance(c.tag, str)]

    def require(self, path: str) -> "Body":
        node = self.find(path)
        if node is None:
            raise RequestError(INVALID, f"{self.path}.{path.replace('/', '.')}", "missing")
        return node

    @property
    def text(self) -> str:
        return (self.element.text or "").strip()

    def str(self, path: str | None = None) -> str:
        node = self.require(path) if path else self
        return node.text

    def int(self, path: str | None = None, lo: int | None = None, hi: int | None = None) -> int:
        node = self.require(path) if path else self
        t = node.text
        try:
            v = int(t)
        except ValueError:
            raise RequestError(INVALID, node.path, f"not an integer: {t!r}") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise RequestError(INVALID, node.path, f"{v} outside {lo}..{hi}")
        return v

    def bool(self, path: str | None = None) -> bool:
        node = self.require(path) if path else self
        t = node.text.lower()
        if t in ("true", "1"):
            return True
        if t in ("false", "0"):
            return False
        raise RequestError(INVALID, node.path, f"not a boolean: {node.text!r}")

    def datetime(self, path: str | None = None) -> datetime.datetime:
        """xs:dateTime (UTC when no zone is given)."""
        node = self.require(path) if path else self
        return parse_datetime(node.text, node.path)

    def date(self, path: str | None = None) -> datetime.date:
        node = self.require(path) if path else self
        try:
            return datetime.date.fromisoformat(node.text[:10])
        except ValueError:
            raise RequestError(INVALID, node.path, f"not a date: {node.text!r}") from None

    def time(self, path: str | None = None) -> datetime.time:
        """xs:time such as C{17:00:00.00Z}."""
        node = self.require(path) if path else self
        t = node.text.rstrip("Zz")
        try:
            return datetime.time.fromisoformat(t)
        except ValueError:
            raise RequestError(INVALID, node.path, f"not a time: {node.text!r}") from None


def is_cancellation(when: datetime.datetime) -> bool:
    """True for the execution date-time that cancels a future-dated request."""
    return when.year >= CANCELLATION_YEAR


def parse_datetime(text: str, element: str) -> datetime.datetime:
    """An xs:dateTime as an aware UTC datetime (DUIS date-times are UTC)."""
    t = text.strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    if re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.(?:$|[+-])", t):   # "2015-01-01T00:00:00." form
        t = t.replace(".", "", 1)
    try:
        dt = datetime.datetime.fromisoformat(t)
    except ValueError:
        raise RequestError(INVALID, element, f"not a date-time: {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.astimezone(datetime.timezone.utc)


def parse_xml(data: bytes) -> ElementTree.Element:
    """Parse XML bytes with the standard library (no external entities are resolved)."""
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as e:
        raise RequestError(INVALID, "", f"not well-formed XML: {e}") from None
