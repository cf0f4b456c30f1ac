"""DUIS service requests: parse and validate the XML envelope (DUIS section 3, "Request").

Sans-IO: bytes in, a L{ServiceRequest} (or L{DuisError} naming the response code) out.  The
two request documents DCC Users send are

  - C{sr:Request}: C{sr:Header} (C{RequestID} = originator EUI : target EUI : counter,
    C{CommandVariant}, C{ServiceReference}, C{ServiceReferenceVariant}), C{sr:Body} with one
    element (e.g. C{sr:ReadActivePowerImport}), then C{ds:Signature};
  - C{sr:SignedPreCommand}: C{sr:Header} (C{RequestID}, C{CommandVariant}) and
    C{sr:GBCSPayload} (the pre-command the DCC returned, signed by the User), then
    C{ds:Signature}.

The XML is parsed without DTDs, entities or network access (a DOCTYPE is refused), and size
is bounded.  Checks here are those that need nothing but the document and the request
matrix; the signature, roles, counters and inventory are checked by the gateway
(L{protocols.duis.gateway}).
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from dataclasses import dataclass

from lxml import etree

from protocols.duis import codes
from protocols.duis.errors import DuisError
from protocols.duis.matrix import RequestMatrix, ServiceRequestDef, load_matrix

__all__ = ["SR", "RequestID", "ServiceRequest", "parse_request", "parse_request_id", "format_eui",
           "MAX_REQUEST_BYTES"]

SR = "http://www.dccinterface.co.uk/ServiceUserGateway"
_S = "{%s}%%s" % SR

#: DUIS requests are small; anything larger is refused before parsing
MAX_REQUEST_BYTES = 1 << 20

_EUI = r"[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){7}"
_REQUEST_ID = re.compile(rf"^({_EUI}):({_EUI}):([0-9]{{1,20}})$")


def format_eui(eui: int) -> str:
    """EUI-64 -> DUIS text form C{90-B3-D5-1F-30-01-00-00}."""
    return "-".join(f"{b:02X}" for b in eui.to_bytes(8, "big"))


@dataclass(frozen=True, slots=True)
class RequestID:
    """C{originator:target:counter} (DUIS 3.x "Request ID")."""

    originator: int
    target: int
    counter: int

    def __str__(self) -> str:
        return f"{format_eui(self.originator)}:{format_eui(self.target)}:{self.counter}"

    def response_id(self) -> str:
        """The ResponseID of a response to this request: target:originator:counter."""
        return f"{format_eui(self.target)}:{format_eui(self.originator)}:{self.counter}"


def parse_request_id(text: str, line: int = 0) -> RequestID:
    """Parse a RequestID; L{DuisError} (E1) if it is not C{EUI:EUI:counter}."""
    m = _REQUEST_ID.match(text.strip())
    if not m:
        raise DuisError(codes.SCHEMA, "Header.RequestID",
                        f"RequestID {text.strip()!r} is not originator-EUI:target-EUI:counter "
                        "(EUIs as 8 hex pairs joined by '-')", line)
    counter = int(m.group(3))
    if counter >= 1 << 64:
        raise DuisError(codes.SCHEMA, "Header.RequestID", f"RequestID counter {counter} exceeds 64 bits", line)
    return RequestID(int(m.group(1).replace("-", ""), 16), int(m.group(2).replace("-", ""), 16), counter)


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """A parsed, schema-checked DUIS request.

    C{definition} is the matrix row of the service reference variant (for a signed
    pre-command: C{None} until the gateway matches it to its pre-command).
    """

    kind: str  # "Request" or "SignedPreCommand"
    request_id: RequestID
    command_variant: int
    service_reference: str | None
    service_reference_variant: str | None
    definition: ServiceRequestDef | None
    body: etree._Element | None  # the one element inside sr:Body (Request)
    gbcs_payload: bytes | None  # SignedPreCommand
    schema_version: str
    document: etree._Element  # the root, for the signature check

    @property
    def name(self) -> str:
        """The body element's local name (e.g. C{ReadInventory})."""
        return etree.QName(self.body).localname if self.body is not None else self.kind


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_blank_text=False)


#: one parser per thread (an lxml parser may be reused, but not shared between threads)
_PARSERS = threading.local()


def _shared_parser() -> etree.XMLParser:
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = _parser()
    return parser


def _children(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str)]


def _by_tag(el: etree._Element) -> dict[str, list[etree._Element]]:
    """The element's child elements grouped by tag (one pass, instead of a search per name)."""
    out: dict[str, list[etree._Element]] = {}
    for c in el:
        tag = c.tag
        if isinstance(tag, str):
            found = out.get(tag)
            if found is None:
                out[tag] = [c]
            else:
                found.append(c)
    return out


_HEADER_TAGS = {name: _S % name for name in ("RequestID", "CommandVariant", "ServiceReference",
                                               "ServiceReferenceVariant")}


def _text(header: etree._Element, name: str, children: dict[str, list[etree._Element]] | None = None
          ) -> tuple[str, int]:
    tag = _HEADER_TAGS.get(name) or _S % name
    found = (children if children is not None else _by_tag(header)).get(tag, ())
    if len(found) != 1:
        raise DuisError(codes.SCHEMA, f"Header.{name}",
                        f"sr:Header must have exactly one sr:{name}, has {len(found)}", header.sourceline or 0)
    el = found[0]
    if len(el) and _children(el):
        raise DuisError(codes.SCHEMA, f"Header.{name}", f"sr:{name} must hold text only", el.sourceline or 0)
    text = (el.text or "").strip()
    if not text:
        raise DuisError(codes.SCHEMA, f"Header.{name}", f"sr:{name} is empty", el.sourceline or 0)
    return text, el.sourceline or 0


_COMMAND_VARIANTS = {str(v): v for v in range(1, 9)}
#: root tag -> document kind
_ROOTS = {_S % "Request": "Request", _S % "SignedPreCommand": "SignedPreCommand"}
_NS_PREFIX = "{%s}" % SR


def _command_variant(header: etree._Element, children: dict[str, list[etree._Element]] | None = None) -> int:
    text, line = _text(header, "CommandVariant", children)
    value = _COMMAND_VARIANTS.get(text)
    if value is None:
        raise DuisError(codes.SCHEMA, "Header.CommandVariant", f"CommandVariant {text!r} is not 1-8", line)
    return value


def parse_request(data: bytes, matrix: RequestMatrix | None = None) -> ServiceRequest:
    """Parse and schema-check one DUIS request document.

    @raise DuisError: E1 (not XML / not the DUIS shape / missing field), E4 (unknown service
        reference or a variant of another reference), E5 (CommandVariant not allowed).
    """
    matrix = matrix or load_matrix()
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("parse_request takes bytes")
    if len(data) > MAX_REQUEST_BYTES:
        raise DuisError(codes.SCHEMA, "document", f"request of {len(data)} bytes exceeds {MAX_REQUEST_BYTES}")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise DuisError(codes.SCHEMA, "document", "DOCTYPE and entity declarations are not allowed in DUIS")
    try:
        root = etree.fromstring(bytes(data), _shared_parser())
    except etree.XMLSyntaxError as e:
        line = e.position[0] if e.position else 0
        raise DuisError(codes.SCHEMA, "document", f"not well-formed XML: {e.msg}", line) from None
    kind = _ROOTS.get(root.tag)
    if kind is None:
        raise DuisError(codes.SCHEMA, "document",
                        f"root element {root.tag!r} is not sr:Request or sr:SignedPreCommand "
                        f"(namespace {SR})", root.sourceline or 0)
    schema_version = root.get("schemaVersion") or ""
    if not schema_version:
        raise DuisError(codes.SCHEMA, "document.schemaVersion", f"sr:{kind} has no schemaVersion", root.sourceline or 0)
    top = _by_tag(root)
    headers = top.get(_S % "Header", ())
    if len(headers) != 1:
        raise DuisError(codes.SCHEMA, "Header", f"sr:{kind} must have exactly one sr:Header, has {len(headers)}",
                        root.sourceline or 0)
    header = headers[0]
    fields = _by_tag(header)
    rid_text, rid_line = _text(header, "RequestID", fields)
    request_id = parse_request_id(rid_text, rid_line)
    command_variant = _command_variant(header, fields)
    if kind == "SignedPreCommand":
        payloads = top.get(_S % "GBCSPayload", ())
        if len(payloads) != 1:
            raise DuisError(codes.SCHEMA, "GBCSPayload",
                            f"sr:SignedPreCommand must have exactly one sr:GBCSPayload, has {len(payloads)}",
                            root.sourceline or 0)
        try:
            payload = base64.b64decode("".join((payloads[0].text or "").split()), validate=True)
        except (binascii.Error, ValueError):
            raise DuisError(codes.SCHEMA, "GBCSPayload", "sr:GBCSPayload is not base64",
                            payloads[0].sourceline or 0) from None
        if not payload:
            raise DuisError(codes.SCHEMA, "GBCSPayload", "sr:GBCSPayload is empty", payloads[0].sourceline or 0)
        if command_variant not in (4, 5, 6):
            raise DuisError(codes.COMMAND_VARIANT, "Header.CommandVariant",
                            f"a signed pre-command takes CommandVariant 4, 5 or 6, not {command_variant}")
        return ServiceRequest(kind, request_id, command_variant, None, None, None, None, payload,
                              schema_version, root)
    reference, ref_line = _text(header, "ServiceReference", fields)
    variant, var_line = _text(header, "ServiceReferenceVariant", fields)
    bodies = top.get(_S % "Body", ())
    if len(bodies) != 1:
        raise DuisError(codes.SCHEMA, "Body", f"sr:Request must have exactly one sr:Body, has {len(bodies)}",
                        root.sourceline or 0)
    content = _children(bodies[0])
    if len(content) != 1:
        raise DuisError(codes.SCHEMA, "Body", f"sr:Body must hold exactly one service request element, "
                        f"holds {len(content)}", bodies[0].sourceline or 0)
    if reference not in matrix.references:
        raise DuisError(codes.SERVICE_REFERENCE, "Header.ServiceReference",
                        f"unknown service reference {reference!r}", ref_line)
    definition = matrix.get(variant)
    if definition is None or definition.service_reference != reference:
        raise DuisError(codes.SERVICE_REFERENCE, "Header.ServiceReferenceVariant",
                        f"service reference variant {variant!r} is not one of {reference}'s "
                        f"({', '.join(sorted(matrix.references[reference]))})", var_line)
    if command_variant not in definition.command_variants():
        raise DuisError(codes.COMMAND_VARIANT, "Header.CommandVariant",
                        f"CommandVariant {command_variant} is not allowed for {variant} {definition.name} "
                        f"(allowed: {', '.join(map(str, sorted(definition.command_variants())))})")
    if not content[0].tag.startswith(_NS_PREFIX):
        raise DuisError(codes.SCHEMA, "Body", f"the service request element {content[0].tag!r} is not in {SR}",
                        content[0].sourceline or 0)
    return ServiceRequest(kind, request_id, command_variant, reference, variant, definition, content[0], None,
                          schema_version, root)
