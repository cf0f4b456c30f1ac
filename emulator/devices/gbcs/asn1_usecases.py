"""The ASN.1 use cases every device type executes (spec/gbcs-wire-format.md 4.3):

  - CS02a / CS02f, provide security credential details: the trust anchor cells the device
    holds for each remote party role asked about (key usage, cell usage, subject unique id
    and subject key identifier of each installed certificate);
  - CS02b / CS02g, update security credentials: replace trust anchor cells with new
    certificates that chain to the device's Root trust anchor through the certification
    path the command carries (L{protocols.gbcs.pki});
  - CS02d, update device certificate: accepted when it names this device, has a single
    digital-signature or key-agreement key usage and carries the device's current public key;
  - CS02e, provide device certificate (or why not: invalid key usage, no certificate held,
    the certificate storage cannot be read);
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
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from protocols.errors import CodecError
from protocols.gbcs.payloads import asn1
from protocols.gbcs.pki import ca_problem, issued_by

from emulator.devices.gbcs.security import CELL_ROLES

__all__ = ["Asn1State", "ASN1_USE_CASES", "ASN1_HANDLERS", "ASN1_PREPARERS", "Asn1Typed", "execute_asn1", "asn1_outcome",
           "asn1_is_error", "credentials_outcome", "stage_asn1_error", "DEVICE_TYPE_CODES", "pending_keys",
           "pending_public_key", "adopt_pending_key"]

#: GBCS device type enumeration (4.3)
DEVICE_TYPE_CODES = {"GSME": 0, "ESME": 1, "CHF": 2, "GPF": 3, "HCALCS": 4, "PPMID": 5}

_DS, _KA = {"bits": 1, "value": "80"}, {"bits": 5, "value": "08"}

#: message code -> handler name
ASN1_USE_CASES = {0x0008: "credential_details", 0x011B: "credential_details", 0x000B: "update_certificate",
                  0x000C: "provide_certificate", 0x000D: "join", 0x00AB: "join", 0x000E: "join",
                  0x00AF: "join", 0x000F: "unjoin", 0x0010: "unjoin", 0x007F: "set_clock",
                  0x0129: "read_firmware",
                  **{code: "update_credentials" for code in (*range(0x0100, 0x010A), 0x0125, 0x0126)}}
#: handler name -> handler(device, message_code, value, commit) of the use cases other modules
#: implement (firmware, credentials, device logs); they register themselves with their codes
ASN1_HANDLERS: dict[str, Any] = {}
#: handler name -> preparer(device, value): make the state the command presupposes hold (used
#: to stage reference tests, L{emulator.devices.gbcs.device.GbcsDevice.prepare})
ASN1_PREPARERS: dict[str, Any] = {}


@dataclass(frozen=True, slots=True)
class Asn1Typed:
    """A response value that names its ASN.1 type (e.g. a NULL "accepted" answer)."""

    type_name: str
    value: Any


#: future-dated outcome alerts of CS02b and CS02g
_CREDENTIALS_ALERT = {**{code: 0x00CB for code in range(0x0100, 0x010A)}, 0x0125: 0x0124, 0x0126: 0x0124}
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
    #: the pending future-dated credential update (CS02b / CS02g)
    pending_credentials: Any = None
    #: the firmware image cannot be read (a hardware fault): its version is unknown
    firmware_fault: bool = False
    #: the device's certificate storage cannot be read (a hardware fault): CS02e fails
    certificate_fault: bool = False


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


def pending_keys(device: Any) -> dict:
    """The key pairs CS02c made (by usage, "ds" / "ka") that wait for CS02d to certify them."""
    pending = getattr(device, "pending_keys", None)
    if pending is None:
        pending = device.pending_keys = {}
    return pending


def pending_public_key(device: Any, usage: str) -> bytes | None:
    """The uncompressed public key of the key pair CS02c made for C{usage}, if one is pending."""
    key = pending_keys(device).get(usage)
    if key is None:
        return None
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def adopt_pending_key(device: Any, usage: str) -> None:
    """CS02d installed a certificate for the pending key: it becomes the device's key."""
    key = pending_keys(device).pop(usage, None)
    if key is not None and usage == "ds":
        device.crypto.keystore.add(device.eui, "ds", private_key=key)


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
            if role not in CELL_ROLES:      # no device holds a cell for it (the transitional CoS party)
                out.append({"targetRemotePartyRole": role, "status": "other"})
                continue
            cells = [(k, v) for k, v in device.security.cells.items() if k[0] == role]
            if not cells:
                out.append({"targetRemotePartyRole": role, "status": "trustAnchorNotFound"})
                continue
            details = []
            for (_role, ku, cell), (eui, ski) in sorted(cells, key=lambda kv: (kv[0][1] != "80", kv[0][2] or 0)):
                d: dict = {"trustAnchorCellKeyUsage": dict(_DS if ku == "80" else _KA)}
                if cell is not None:
                    d["trustAnchorCellUsage"] = cell
                d["subjectUniqueID"] = f"{eui:016X}"
                d["subjectKeyIdentifier"] = ski
                details.append(d)
            out.append({"targetRemotePartyRole": role, "status": "success",
                        "currentSeqNumber": state.seq_numbers.get(role, 0), "trustAnchorCellDetails": details})
        return out
    if name == "provide_certificate":
        bits = (value or {}).get("keyUsage") if isinstance(value, dict) else None
        usage = "ds" if bits == _DS else "ka" if bits == _KA else None
        if usage is None:
            return 1                                      # invalid key usage
        if state.certificate_fault:
            return 3                                      # retrieval failure
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
        offered = bytes.fromhex(value.get("public_key", ""))
        # a key pair CS02c made is pending until a certificate for it is installed
        pending = offered == pending_public_key(device, usage)
        if offered != mine and not pending:
            return 5                                      # wrong public key
        if commit:
            state.certificates[usage] = bytes.fromhex(value["der"])
            if pending:
                adopt_pending_key(device, usage)
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
        # the meter adopts the CH's time (the HAN's), not the Supplier's, if it lies in the interval
        now = float(device.clock.seconds())
        if start <= now <= end:
            if commit:
                device.clock_offset = 0.0                 # within tolerance: the clock is reliable
            return {"deviceTime": _gtime(now), "deviceTimeStatus": 0}
        return {"deviceTime": _gtime(device.now()), "deviceTimeStatus": 2}
    if name == "update_credentials":
        if not isinstance(value, dict) or "replacements" not in value:
            return None
        when = value.get("executionDateTime")
        if when is not None:
            t = _from_gtime(when)
            if t is None:
                return None
            pending = device.asn1_state.pending_credentials
            if pending is not None and commit:
                if pending.active():
                    pending.cancel()
                device.asn1_state.pending_credentials = None
            if t > device.now():
                if commit and time.gmtime(int(min(t, 253402300799)))[0] < 9999:   # 9999-12-31: cancel only
                    device.asn1_state.pending_credentials = device.clock.callLater(
                        t - device.now(), _credentials_due, device, message_code, value)
                return {"commandAccepted": None}
        return {"commandAccepted": None, "executionOutcome": _replace_credentials(device, value, commit)}
    if name == "read_firmware":
        if device.device_type not in ("PPMID", "HCALCS"):
            return None
        if state.firmware_fault:
            return {"firmwareVersion": "00000000", "responseCode": 1}
        return {"firmwareVersion": state.firmware_version.hex().upper(), "responseCode": 0}
    handler = ASN1_HANDLERS.get(name)
    if handler is not None:
        return handler(device, message_code, value, commit)
    return None


def stage_asn1_error(device: Any, message_code: int, value: Any) -> bool:
    """Put the device in a state where the ASN.1 command fails; False if none applies.

    A join of a device the log already holds under another device type (the reference test
    joined it before); a firmware version read from a device whose image cannot be read; a
    device certificate (of a valid key usage, that the device holds) read from a device whose
    certificate storage cannot be read.
    """
    name = ASN1_USE_CASES.get(message_code)
    state: Asn1State = device.asn1_state
    if name == "join" and isinstance(value, dict):
        method, other, other_type = (value.get("joinMethodAndRole"), value.get("otherDeviceEntityIdentifier"),
                                     value.get("otherDeviceType"))
        others = sorted(_PARTNERS.get(device.device_type, {}).get(method, set()) - {other_type})
        if not isinstance(other, str) or not others:
            return False
        state.partners[other] = others[0]
        return True
    if name == "read_firmware":
        state.firmware_fault = True
        return True
    if name == "provide_certificate":
        state.certificate_fault = True
        return True
    return False


def _cert_ski(cert: x509.Certificate) -> str:
    return _ski(cert) or ""


def _chains_to_root(device: Any, cert: x509.Certificate, path: list) -> bool:
    """The new certificate chains to the device's Root trust anchor: issued (and signed) by a
    CA of the certification path that the root issued, is a CA and has not expired at the
    device's time (L{protocols.gbcs.pki.ca_problem}), or issued by the root itself.

    A device provisioned without a Root cell cannot validate the path CA: it takes the CA the
    path gives (the command itself is already authenticated by its originator's signature).
    """
    root = device.security.root
    try:
        if root is not None and issued_by(cert, root.subject, root.public_key):
            return True
    except (ValueError, UnsupportedAlgorithm):      # a certificate field that does not parse
        return False
    for entry in path if isinstance(path, list) else ():
        try:
            ca = x509.load_der_x509_certificate(bytes.fromhex(entry["der"]))
            if not issued_by(cert, ca.subject, ca.public_key()):
                continue
            if root is None or ca_problem(ca, root, device.now()) is None:
                return True
        except (KeyError, TypeError, ValueError, UnsupportedAlgorithm):
            continue
    return False


def _replace_credentials(device: Any, value: dict, commit: bool) -> dict:
    """CS02b/CS02g: replace trust anchor cells whose new certificates chain to the path given."""
    from emulator.devices.gbcs.security import RemoteParty
    ctl = value.get("authorisingRemotePartyControl") or {}
    reps = value.get("replacements") or []
    path = value.get("certificationPathCertificates") or []
    cells = device.security.cells
    changes = []
    if "newRemotePartyFloorSeqNumber" in ctl and reps:
        first = {"otherRemotePartyRole": reps[0]["targetTrustAnchorCell"]["trustAnchorCellRemotePartyRole"],
                 "otherRemotePartyFloorSeqNumber": ctl["newRemotePartyFloorSeqNumber"]}
        if "newRemotePartySpecialistFloorSeqNumbers" in ctl:
            first["otherRemotePartySpecialistFloorSeqNumbers"] = ctl["newRemotePartySpecialistFloorSeqNumbers"]
        changes.append(first)
    changes += list(ctl.get("otherRemotePartySeqNumberChanges") or [])
    # the authorising party is the one the command's trust anchor cell names, and the
    # command must come from it (or from the ACB acting for it)
    authorising_role = (ctl.get("authorisingRemotePartyTACellIdentifier") or {}).get("trustAnchorCellRemotePartyRole")
    originator = device.security.remote_parties.get(getattr(device, "_current_originator", None))
    authorised = originator is None or originator.role in (authorising_role, 4)
    outcomes = []
    for rep in reps:
        target = rep.get("targetTrustAnchorCell") or {}
        role = target.get("trustAnchorCellRemotePartyRole")
        ku = (target.get("trustAnchorCellKeyUsage") or {}).get("value")
        key = (role, ku, target.get("trustAnchorCellUsage"))
        try:
            cert = x509.load_der_x509_certificate(bytes.fromhex(rep["newRemotePartyCertificate"]["der"]))
            new_eui, new_ski = rep["newRemotePartyCertificate"].get("entity_id"), _cert_ski(cert)
        except (KeyError, TypeError, ValueError):
            cert, new_eui, new_ski = None, None, ""
        existing = cells.get(key)
        ex_eui, ex_ski = (f"{existing[0]:016X}", existing[1]) if existing else (new_eui, new_ski)
        ok = authorised and cert is not None and new_eui is not None and _chains_to_root(device, cert, path)
        status = "success" if ok else ("noTrustAnchor" if authorised else "notAuthorized")
        outcomes.append({"affectedTrustAnchorCell": target, "statusCode": status,
                         "existingSubjectUniqueID": ex_eui, "existingSubjectKeyIdentifier": ex_ski,
                         "replacingSubjectUniqueID": new_eui if ok else ex_eui,
                         "replacingSubjectKeyIdentifier": new_ski if ok else ex_ski})
        if ok and commit:
            eui = int(new_eui, 16)
            cells[key] = (eui, new_ski)
            if ku == "80":           # the digital signature cell: commands now verify with this key
                for other in [p for p in device.security.remote_parties.values() if p.role == role]:
                    del device.security.remote_parties[other.eui]
                device.security.install(RemoteParty(eui, role, cert.public_key()))
    if commit:
        for change in changes:
            device.asn1_state.seq_numbers[change["otherRemotePartyRole"]] = change["otherRemotePartyFloorSeqNumber"]
    return {"authorisingRemotePartySeqNumber": ctl.get("authorisingRemotePartySeqNumber", 0),
            "credentialsReplacementMode": ctl.get("credentialsReplacementMode", 0),
            "remotePartySeqNumberChanges": changes, "replacementOutcomes": outcomes}


def credentials_outcome(device: Any, value: dict) -> dict:
    """The execution outcome a CS02b/CS02g would have now (no state change)."""
    return _replace_credentials(device, value, False)


def _credentials_due(device: Any, message_code: int, value: dict) -> None:
    """A future-dated CS02b/CS02g falls due: execute it and report the outcome (8F66 / 8F67)."""
    device.asn1_state.pending_credentials = None
    outcome = _replace_credentials(device, value, True)
    ok = all(o["statusCode"] == "success" for o in outcome["replacementOutcomes"])
    alert = 0x8F66 if ok else 0x8F67
    payload = {"kind": "asn1", "asn1_type": "FutureDatedUpdateSecurityCredentialsAlert", "length_encoding": "der",
               "value": {"alertCode": alert, "executionDateTime": _gtime(device.now()), "executionOutcome": outcome}}
    device.raise_alert(alert, critical=True, payload=payload, message_code=_CREDENTIALS_ALERT[message_code],
                       recipient=device.last_command_originator(message_code))


def asn1_is_error(response: Any) -> bool:
    """True if a response value reports failure."""
    if isinstance(response, Asn1Typed):
        return False
    if isinstance(response, int):
        return response != 0
    if isinstance(response, list):
        return any(r.get("status") != "success" for r in response)
    if isinstance(response, dict):
        outcome = response.get("executionOutcome")
        if isinstance(outcome, dict):
            return any(o.get("statusCode") != "success" for o in outcome.get("replacementOutcomes") or [])
        if "deviceTimeStatus" in response:
            return response["deviceTimeStatus"] != 0
        if "responseCode" in response:
            return response["responseCode"] != 0
        if "activateImageResponseCode" in response:
            return response["activateImageResponseCode"] != 0
        if "restoreOutcomes" in response:
            return any(o.get("joinResponseCode") != 0 for o in response["restoreOutcomes"])
    return False


def execute_asn1(device: Any, message_code: int, payload: dict) -> dict | None:
    """Execute an ASN.1 command payload; the response payload tree, or C{None}."""
    value = asn1_outcome(device, message_code, payload.get("value"), commit=True)
    if value is None:
        return None
    if isinstance(value, Asn1Typed):
        return {"kind": "asn1", "asn1_type": value.type_name, "value": value.value, "length_encoding": "der"}
    for type_name in asn1.MESSAGE_TYPES.get(message_code, {}).get("response", ()):
        tree = {"kind": "asn1", "asn1_type": type_name, "value": value, "length_encoding": "der"}
        try:
            asn1.encode_type(tree)
        except CodecError:
            continue
        return tree
    return None
