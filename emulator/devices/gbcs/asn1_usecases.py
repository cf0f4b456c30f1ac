"""The ASN.1 use cases every device type executes (spec/gbcs-wire-format.md 4.3):

  - CS02a / CS02f, provide security credential details: the trust anchor cells the device
    holds for each remote party role asked about (key usage, cell usage, subject unique id
    and subject key identifier of each installed certificate);
  - CS02d, update device certificate: accepted when it names this device, has a single
    digital-signature or key-agreement key usage and carries the device's current public key;
  - CS02e, provide device certificate;
  - CS03A1/A2/B/C and CS04AC/B, join and unjoin: the device's own log of HAN partners, with the
    join method/role and partner type combinations GBCS allows and the certificate method C needs;
  - GCS28, set the GSME clock within the command's validity interval;
  - CS08, read the PPMID/HCALCS firmware version.

Each handler returns the response value (or C{None} when the device does not model the
command's form) and changes state only when the outcome is success.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from protocols.errors import CodecError
from protocols.gbcs.payloads import asn1

__all__ = ["Asn1State", "ASN1_USE_CASES", "execute_asn1", "asn1_outcome", "DEVICE_TYPE_CODES"]

#: GBCS device type enumeration (4.3)
DEVICE_TYPE_CODES = {"GSME": 0, "ESME": 1, "CHF": 2, "GPF": 3, "HCALCS": 4, "PPMID": 5}

_DS, _KA = {"bits": 1, "value": "80"}, {"bits": 5, "value": "08"}

#: message code -> handler name
ASN1_USE_CASES = {0x0008: "credential_details", 0x011B: "credential_details", 0x000B: "update_certificate",
                  0x000C: "provide_certificate", 0x000D: "join", 0x00AB: "join", 0x000E: "join",
                  0x00AF: "join", 0x000F: "unjoin", 0x0010: "unjoin", 0x007F: "set_clock",
                  0x0129: "read_firmware"}
#: which join method and role each join message code carries (CS03A1, CS03A2, CS03B, CS03C)
_JOIN_METHODS = {0x000D: {0}, 0x00AB: {1}, 0x000E: {2}, 0x00AF: {3}}
#: device type -> partner device types it may join, by method (GBCS HAN joining)
_PARTNERS = {
    "ESME": {0: {4, 5, 6}, 1: {4, 5, 6}, 3: {0, 4, 5, 6}},
    "GSME": {0: {5, 6}, 1: {5, 6}, 2: {3}, 3: {1, 5, 6}},
    "PPMID": {0: {0, 1}, 1: {0, 1}, 3: {0, 1}},
    "HCALCS": {0: {1}, 1: {1}, 3: {1}},
    "GPF": {2: {0}},
}


@dataclass(slots=True)
class Asn1State:
    """State behind the ASN.1 use cases: the device's HAN partners, firmware, clock status."""

    #: partner EUI-64 (16 hex digits) -> GBCS device type
    partners: dict[str, int] = field(default_factory=dict)
    firmware_version: bytes = b"\x00\x00\x00\x01"
    #: per remote party role: current sequence number of its credentials
    seq_numbers: dict[int, int] = field(default_factory=dict)
    #: the device's own certificates replaced by CS02d: key usage -> DER
    certificates: dict[str, bytes] = field(default_factory=dict)


def _ski(cert: x509.Certificate | None) -> str | None:
    if cert is None:
        return None
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex().upper()
    except x509.ExtensionNotFound:
        return None


def _gtime(seconds: float) -> dict:
    return {"generalized_time": time.strftime("%Y%m%d%H%M%SZ", time.gmtime(int(seconds)))}


def _from_gtime(v: Any) -> float | None:
    text = v.get("generalized_time") if isinstance(v, dict) else v
    try:
        return float(calendar.timegm(time.strptime(str(text), "%Y%m%d%H%M%SZ")))
    except ValueError:
        return None


def _own_certificate(device: Any, usage: str) -> x509.Certificate | None:
    der = device.asn1_state.certificates.get(usage)
    if der is not None:
        return x509.load_der_x509_certificate(der)
    return device.crypto.keystore.certificate(device.eui, usage)


def asn1_outcome(device: Any, message_code: int, value: Any, *, commit: bool) -> Any:
    """The response value of an ASN.1 command (state changes only with C{commit})."""
    name = ASN1_USE_CASES.get(message_code)
    state: Asn1State = device.asn1_state
    if name == "credential_details":
        roles = value.get("remotePartyRoles") if isinstance(value, dict) else None
        if not isinstance(roles, list):
            return None
        out = []
        for role in roles:
            parties = [p for p in device.security.remote_parties.values() if p.role == role]
            if not parties:
                out.append({"targetRemotePartyRole": role, "status": "trustAnchorNotFound"})
                continue
            cells = []
            ks = device.crypto.keystore
            for p in parties:
                for usage, ku, cell in (("ds", _DS, None), ("ka", _KA, None), ("pp-ka", _KA, 1)):
                    ski = _ski(ks.certificate(p.eui, usage))
                    if ski is None:
                        continue
                    c = {"trustAnchorCellKeyUsage": dict(ku), "subjectUniqueID": f"{p.eui:016X}",
                         "subjectKeyIdentifier": ski}
                    if cell is not None:
                        c = {"trustAnchorCellKeyUsage": dict(ku), "trustAnchorCellUsage": cell,
                             "subjectUniqueID": f"{p.eui:016X}", "subjectKeyIdentifier": ski}
                    cells.append(c)
            out.append({"targetRemotePartyRole": role, "status": "success",
                        "currentSeqNumber": state.seq_numbers.get(role, 0), "trustAnchorCellDetails": cells})
        return out
    if name == "provide_certificate":
        bits = (value or {}).get("keyUsage") if isinstance(value, dict) else None
        usage = "ds" if bits == _DS else "ka" if bits == _KA else None
        if usage is None:
            return 1                                      # invalid key usage
        cert = _own_certificate(device, usage)
        if cert is None:
            return 2                                      # no certificate held
        return {"der": cert.public_bytes(serialization.Encoding.DER).hex().upper()}
    if name == "update_certificate":
        if not isinstance(value, dict) or "der" not in value:
            return 1
        if value.get("entity_id") != f"{device.eui:016X}":
            return 2                                      # wrong device identity
        ku = value.get("key_usage") or []
        usage = "ds" if ku == ["digital_signature"] else "ka" if ku == ["key_agreement"] else None
        if usage is None:
            return 3                                      # invalid key usage
        current = _own_certificate(device, usage)
        if current is None:
            return 4
        mine = current.public_key().public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
        if bytes.fromhex(value.get("public_key", "")) != mine:
            return 5                                      # wrong public key
        if commit:
            state.certificates[usage] = bytes.fromhex(value["der"])
        return 0
    if name == "join":
        if not isinstance(value, dict):
            return None
        method = value.get("joinMethodAndRole")
        if method not in _JOIN_METHODS.get(message_code, ()):
            return 1                                      # message code does not match method/role
        other, other_type = value.get("otherDeviceEntityIdentifier"), value.get("otherDeviceType")
        if other_type not in _PARTNERS.get(device.device_type, {}).get(method, set()):
            return 2                                      # invalid join method and role
        if method == 3 and not isinstance(value.get("otherDeviceCertificate"), dict):
            return 11                                     # invalid or missing certificate
        existing = state.partners.get(other)
        if existing is not None and existing != other_type:
            return 3                                      # incompatible with existing entry
        if commit:
            state.partners[other] = other_type
        return 0
    if name == "unjoin":
        if not isinstance(value, str):
            return None
        if value not in state.partners:
            return 1                                      # not in device log
        if commit:
            del state.partners[value]
        return 0
    if name == "set_clock":
        if not isinstance(value, dict):
            return None
        start, end = _from_gtime(value.get("validityIntervalStart")), _from_gtime(value.get("validityIntervalEnd"))
        if start is None or end is None or end < start:
            return {"deviceTime": _gtime(device.now()), "deviceTimeStatus": 1}
        now = device.now()
        if start <= now <= end:
            if commit:
                device.clock_offset = 0.0                 # within tolerance: the clock is reliable
            return {"deviceTime": _gtime(now), "deviceTimeStatus": 0}
        return {"deviceTime": _gtime(now), "deviceTimeStatus": 2}
    if name == "read_firmware":
        if device.device_type not in ("PPMID", "HCALCS"):
            return None
        return {"firmwareVersion": state.firmware_version.hex().upper(), "responseCode": 0}
    return None


def asn1_is_error(response: Any) -> bool:
    """True if a response value reports failure."""
    if isinstance(response, int):
        return response != 0
    if isinstance(response, list):
        return any(r.get("status") != "success" for r in response)
    if isinstance(response, dict):
        if "deviceTimeStatus" in response:
            return response["deviceTimeStatus"] != 0
        if "responseCode" in response:
            return response["responseCode"] != 0
    return False


def execute_asn1(device: Any, message_code: int, payload: dict) -> dict | None:
    """Execute an ASN.1 command payload; the response payload tree, or C{None}."""
    value = asn1_outcome(device, message_code, payload.get("value"), commit=True)
    if value is None:
        return None
    for type_name in asn1.MESSAGE_TYPES.get(message_code, {}).get("response", ()):
        tree = {"kind": "asn1", "asn1_type": type_name, "value": value, "length_encoding": "der"}
        try:
            asn1.encode_type(tree)
        except CodecError:
            continue
        return tree
    return None
