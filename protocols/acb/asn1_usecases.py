"""ASN.1 use cases (GBCS 4.3, schema C{protocols/gbcs/payloads/gbcs.asn}): the GSME clock,
unjoin, PPMID / HCALCS firmware version, and the security credential commands."""

from __future__ import annotations

from typing import Callable

import base64
import binascii

from .context import BuildContext, clock_window
from .request import INVALID, RequestError

__all__ = ["register"]


def _set_clock_gsme(ctx: BuildContext) -> dict:
    """GCS28: ASN.1 SetClockCommand with the validity interval of the new time."""
    start, end = clock_window(ctx)
    return {"kind": "asn1", "asn1_type": "SetClockCommand",
            "value": {"validityIntervalStart": {"generalized_time": start.strftime("%Y%m%d%H%M%SZ")},
                      "validityIntervalEnd": {"generalized_time": end.strftime("%Y%m%d%H%M%SZ")}},
            "length_encoding": "der"}


def _unjoin(ctx: BuildContext) -> dict:
    """CS04B: ASN.1 UnjoinDeviceCommand naming the other device."""
    node = ctx.body.require("OtherDeviceID")
    digits = node.text.replace("-", "")
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raw = b""
    if len(raw) != 8:
        raise RequestError(INVALID, node.path, "not an EUI-64")
    return {"kind": "asn1", "asn1_type": "UnjoinDeviceCommand", "value": raw.hex().upper(), "length_encoding": "der"}


#: GBCS RemotePartyRole values by DUIS RemotePartyRole name.
_REMOTE_PARTY_ROLES = {"Root": 0, "Recovery": 1, "Supplier": 2, "NetworkOperator": 3, "AccessControlBroker": 4,
                       "TransitionalCoS": 5, "WANProvider": 6, "IssuingAuthority": 7, "LoadController": 8}
_ACCESS_CONTROL_BROKER = 4
#: X.509 KeyUsage bits as the ASN.1 codec writes them (bit count, MSB-first octets).
_DIGITAL_SIGNATURE = {"bits": 1, "value": "80"}
_KEY_AGREEMENT = {"bits": 5, "value": "08"}
_CREDENTIAL_TYPES = {"Digital Signature": _DIGITAL_SIGNATURE, "Key Agreement": _KEY_AGREEMENT}


def _asn1(type_name: str, value) -> dict:
    return {"kind": "asn1", "asn1_type": type_name, "value": value, "length_encoding": "der"}


def _credential_details(ctx: BuildContext) -> dict:
    """CS02a / CS02f (6.24.1, MAC form): which remote parties' trust anchors the device holds,
    asked under the ACB's key-agreement trust anchor cell (the command carries the ACB's MAC)."""
    roles = []
    for r in ctx.body.all("RemotePartyRole"):
        if r.text not in _REMOTE_PARTY_ROLES:
            raise RequestError(INVALID, r.path, f"must be one of {', '.join(_REMOTE_PARTY_ROLES)}")
        roles.append(_REMOTE_PARTY_ROLES[r.text])
    if not roles:
        raise RequestError(INVALID, f"{ctx.body.path}.RemotePartyRole", "missing")
    return _asn1("ProvideSecurityCredentialDetailsCommand", {
        "authorisingRemotePartyTACellIdentifier": {"trustAnchorCellRemotePartyRole": _ACCESS_CONTROL_BROKER,
                                                   "trustAnchorCellKeyUsage": dict(_KEY_AGREEMENT)},
        "remotePartyRoles": roles})


def _device_certificate_request(ctx: BuildContext) -> dict:
    """CS02e (6.24.2): the device certificate of the DUIS CredentialType."""
    node = ctx.body.require("CredentialType")
    if node.text not in _CREDENTIAL_TYPES:
        raise RequestError(INVALID, node.path, f"must be one of {', '.join(_CREDENTIAL_TYPES)}")
    return _asn1("ProvideDeviceCertificateCommand", {"keyUsage": dict(_CREDENTIAL_TYPES[node.text])})


def _device_certificate_update(ctx: BuildContext) -> dict:
    """CS02d (6.15.2): the new device certificate (DER, from the DUIS base64)."""
    node = ctx.body.require("DeviceCertificate")
    try:
        der = base64.b64decode("".join(node.text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(INVALID, node.path, "not base64") from None
    if not der.startswith(b"\x30"):
        raise RequestError(INVALID, node.path, "not a DER certificate")
    return _asn1("Certificate", {"der": der.hex().upper()})


def register(add: Callable[..., None]) -> None:
    """Declare the ASN.1 use cases: C{add(name, builder, acb=False, urp=False, acb_own=False,
    acb_signed=False)}."""
    add("GCS28", _set_clock_gsme)
    add("GCS28Commission", _set_clock_gsme)
    add("CS04B", _unjoin)
    add("CS04ACCritical", _unjoin)
    add("CS04ACNonCritical", _unjoin, acb_signed=True)
    add("CS08", lambda ctx: _asn1("ReadFirmwareVersionCommand", None), acb=True)
    add("CS02aMAC", _credential_details, acb_own=True)
    add("CS02fMAC", _credential_details, acb_own=True)
    add("CS02e", _device_certificate_request)
    add("CS02d", _device_certificate_update)
