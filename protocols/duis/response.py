"""DUIS responses, acknowledgements, pre-commands and alerts (DUIS section 3, "Response").

Built in the form of DCC's own messages (C{spec/duis/acknowledgement-error.xml},
C{spec/duis/readfw-response.xml}):

  - acknowledgement: C{sr:Response} whose C{sr:Header} has C{RequestID}, C{ResponseCode}
    (C{I99} accepted, or the C{E} code of the failed check) and C{ResponseDateTime}, and whose
    C{sr:Body/sr:ResponseMessage} names the service reference and variant;
  - response: the same plus C{ResponseID} (target:originator:counter) and either a
    C{sr:GBCSPayload} (base64 GBCS message) or a DSP response element (non-device requests);
  - pre-command: C{sr:PreCommand} carrying the GBCS pre-command for the User to sign;
  - device alert: C{sr:Response} with C{sr:Body/sr:DeviceAlertMessage/sr:GBCSPayload};
    DCC alert: C{sr:Body/sr:DCCAlertMessage} with C{DCCAlertCode} and content.

Every builder takes the time as an argument (injected clock) and returns bytes; with a signer
the document gets the DCC's enveloped XML signature (L{protocols.duis.xmldsig}).
"""

from __future__ import annotations

import base64
import datetime as _dt
from dataclasses import dataclass
from typing import Callable

from lxml import etree

from protocols.duis import codes
from protocols.duis.codes import ResponseCode
from protocols.duis.request import SR
from protocols.duis.xmldsig import DS

__all__ = ["RA", "duis_datetime", "acknowledgement", "response", "precommand", "device_alert", "dcc_alert",
           "ParsedResponse", "parse_response"]

RA = "http://www.dccinterface.co.uk/ResponseAndAlert"
_S = "{%s}%%s" % SR
_NSMAP = {"sr": SR, "ra": RA, "ns3": DS}

#: signs a finished document in place (e.g. C{lambda root: xmldsig.sign(root, key, cert)})
Signer = Callable[[etree._Element], object]


def duis_datetime(seconds: float) -> str:
    """Unix seconds -> C{2022-08-17T15:45:42.790Z} (DUIS ResponseDateTime)."""
    t = _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _root(name: str, schema_version: str) -> etree._Element:
    return etree.Element(_S % name, nsmap=_NSMAP, schemaVersion=schema_version)


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, _S % name)
    if text is not None:
        el.text = text
    return el


def _header(root: etree._Element, request_id: str | None, response_id: str | None, code: ResponseCode,
            when: float) -> None:
    header = _sub(root, "Header")
    if request_id is not None:
        _sub(header, "RequestID", request_id)
    if response_id is not None:
        _sub(header, "ResponseID", response_id)
    _sub(header, "ResponseCode", code.code)
    _sub(header, "ResponseDateTime", duis_datetime(when))


def _finish(root: etree._Element, signer: Signer | None) -> bytes:
    if signer is not None:
        signer(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=False)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def acknowledgement(request_id: str, code: ResponseCode, service_reference: str | None,
                    variant: str | None, when: float, *, schema_version: str = "5.1",
                    signer: Signer | None = None) -> bytes:
    """The synchronous answer to a request: C{I99} (accepted) or the error code."""
    root = _root("Response", schema_version)
    _header(root, request_id, None, code, when)
    msg = _sub(_sub(root, "Body"), "ResponseMessage")
    if service_reference is not None:
        _sub(msg, "ServiceReference", service_reference)
    if variant is not None:
        _sub(msg, "ServiceReferenceVariant", variant)
    return _finish(root, signer)


def response(request_id: str, response_id: str, code: ResponseCode, service_reference: str | None,
             variant: str | None, when: float, *, gbcs_payload: bytes | None = None,
             body: etree._Element | None = None, schema_version: str = "5.1",
             signer: Signer | None = None) -> bytes:
    """A service response: GBCS payload (device requests) or a DSP body (non-device requests)."""
    root = _root("Response", schema_version)
    _header(root, request_id, response_id, code, when)
    msg = _sub(_sub(root, "Body"), "ResponseMessage")
    if service_reference is not None:
        _sub(msg, "ServiceReference", service_reference)
    if variant is not None:
        _sub(msg, "ServiceReferenceVariant", variant)
    if gbcs_payload is not None:
        _sub(msg, "GBCSPayload", _b64(gbcs_payload))
    if body is not None:
        _sub(msg, "Body").append(body)
    return _finish(root, signer)


def precommand(request_id: str, response_id: str, service_reference: str, variant: str, gbcs_payload: bytes,
               when: float, *, schema_version: str = "5.1", signer: Signer | None = None) -> bytes:
    """The GBCS pre-command of a critical request, for the User to sign and send back."""
    root = _root("PreCommand", schema_version)
    _header(root, request_id, response_id, codes.SUCCESS, when)
    msg = _sub(_sub(root, "Body"), "ResponseMessage")
    _sub(msg, "ServiceReference", service_reference)
    _sub(msg, "ServiceReferenceVariant", variant)
    _sub(msg, "GBCSPayload", _b64(gbcs_payload))
    return _finish(root, signer)


def device_alert(response_id: str, code: ResponseCode, gbcs_payload: bytes, when: float, *,
                 schema_version: str = "5.1", signer: Signer | None = None, future_dated: bool = False,
                 request_id: str | None = None) -> bytes:
    """A device alert (GBCS alert in base64) for the Users entitled to it.

    A future-dated command's execution alert is a C{sr:FutureDatedDeviceAlertMessage}
    (C{spec/gbcs-wire-format.md} 10: "alerts arrive as DUIS DeviceAlertMessage /
    FutureDatedDeviceAlertMessage"), with the RequestID of the request it reports on when the
    DCC could correlate it."""
    root = _root("Response", schema_version)
    _header(root, request_id, response_id, code, when)
    element = "FutureDatedDeviceAlertMessage" if future_dated else "DeviceAlertMessage"
    _sub(_sub(_sub(root, "Body"), element), "GBCSPayload", _b64(gbcs_payload))
    return _finish(root, signer)


def dcc_alert(response_id: str, code: ResponseCode, alert_code: str, when: float, *,
              content: etree._Element | None = None, schema_version: str = "5.1",
              signer: Signer | None = None) -> bytes:
    """A DCC alert (raised by the DCC itself, e.g. a request that timed out)."""
    root = _root("Response", schema_version)
    _header(root, None, response_id, code, when)
    msg = _sub(_sub(root, "Body"), "DCCAlertMessage")
    _sub(msg, "DCCAlertCode", alert_code)
    if content is not None:
        _sub(msg, "DSPAlert").append(content)
    return _finish(root, signer)


@dataclass(frozen=True, slots=True)
class ParsedResponse:
    """The fields a DCC User reads back from a response, acknowledgement or pre-command."""

    kind: str  # root local name: "Response" or "PreCommand"
    request_id: str | None
    response_id: str | None
    response_code: str
    service_reference: str | None
    variant: str | None
    gbcs_payload: bytes | None
    body: etree._Element | None
    document: etree._Element


def parse_response(data: bytes) -> ParsedResponse:
    """Read a DUIS response document (ValueError if it is not one)."""
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except etree.XMLSyntaxError as e:
        raise ValueError(f"not a DUIS response: {e.msg}") from None
    if root.tag not in (_S % "Response", _S % "PreCommand"):
        raise ValueError(f"not a DUIS response: root element {root.tag!r}")
    header = root.find(_S % "Header")
    if header is None or header.findtext(_S % "ResponseCode") is None:
        raise ValueError("not a DUIS response: no sr:Header/sr:ResponseCode")
    body = root.find(_S % "Body")
    msg = body.find(_S % "ResponseMessage") if body is not None else None
    if msg is None and body is not None:
        msg = body.find(_S % "DeviceAlertMessage")
    if msg is None and body is not None:
        msg = body.find(_S % "FutureDatedDeviceAlertMessage")
    payload_text = msg.findtext(_S % "GBCSPayload") if msg is not None else None
    inner = msg.find(_S % "Body") if msg is not None else None
    return ParsedResponse(
        kind=etree.QName(root).localname,
        request_id=header.findtext(_S % "RequestID"),
        response_id=header.findtext(_S % "ResponseID"),
        response_code=header.findtext(_S % "ResponseCode").strip(),
        service_reference=msg.findtext(_S % "ServiceReference") if msg is not None else None,
        variant=msg.findtext(_S % "ServiceReferenceVariant") if msg is not None else None,
        gbcs_payload=base64.b64decode("".join(payload_text.split())) if payload_text else None,
        body=inner[0] if inner is not None and len(inner) else None,
        document=root,
    )
