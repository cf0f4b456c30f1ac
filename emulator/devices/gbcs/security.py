"""Device-side GBCS security: the checks a meter makes before it acts on a command.

GBCS (restated in C{spec/gbcs-wire-format.md} sections 1.3-2.4) asks a device to accept a
remote-party command only when all of these hold, in this order:

  1. the message parses (else alert 0x8F1E, integrity check of content or format failed);
  2. the CRA flag says Command and the recipient is this device;
  3. the MAC verifies under the device's key-agreement key and the ACB's (section 2.2;
     else alert 0x8F3E, unauthorised communication access attempted);
  4. the originator is a remote party whose certificate is installed, in a role allowed to
     send that message code (DUIS eligible user roles for the use case; else 0x8F30, source
     does not have authority for command);
  5. a critical use case carries an ECDSA signature that verifies against the digital
     signature certificate the device holds for the originator (section 2.4; else 0x8F3D,
     trusted source authentication failure);
  6. the originator counter is strictly greater than the last one accepted from that remote
     party (a replay is rejected; else 0x8F53, failed authentication or authorisation).

A failed check changes nothing on the device: no counter moves, no state changes, no response
is sent; the device raises the alert instead.  Everything here is plain data plus pure
functions; the device class (L{emulator.devices.gbcs.device}) owns the state.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from protocols.errors import CodecError
from protocols.gbcs import catalogue
from protocols.gbcs.crypto import GbcsCrypto, ecdsa_verify
from protocols.gbcs.framing import CRA_COMMAND, Frame, decode_frame
from protocols.gbcs.pki import TrustAnchor

__all__ = ["ROLE_ROOT", "ROLE_RECOVERY", "ROLE_SUPPLIER", "ROLE_NETWORK_OPERATOR", "ROLE_ACB",
           "ROLE_TRANSITIONAL_COS", "ROLE_WAN_PROVIDER", "ROLE_LOAD_CONTROLLER",
           "ALERT_FORMAT_FAILED", "ALERT_MAC_FAILED", "ALERT_AUTH_FAILED", "ALERT_NO_AUTHORITY",
           "ALERT_SIGNATURE_FAILED",
           "RemoteParty", "SecurityState", "Rejection", "permitted_roles", "check_command",
           "check_han_originator", "han_originator_types",
           "TRUST_ANCHOR_ROLES", "KA_ONLY_CELLS", "CELL_ROLES"]

#: Remote party roles (GBCS; certificate subject OU).
ROLE_ROOT = 0
ROLE_RECOVERY = 1
ROLE_SUPPLIER = 2
ROLE_NETWORK_OPERATOR = 3
ROLE_ACB = 4
ROLE_TRANSITIONAL_COS = 5
ROLE_WAN_PROVIDER = 6
ROLE_LOAD_CONTROLLER = 8

#: The remote party roles whose trust anchor cells each device type holds (GBCS device security
#: credentials): every device the root and recovery cells and the ACB's; meters the supplier's;
#: the ESME also the network operator's and the load controller's; the CHF the WAN provider's.
#: The transitional CoS party has no cell on any device (it acts through the supplier's).
TRUST_ANCHOR_ROLES: dict[str, frozenset[int]] = {
    "ESME": frozenset({0, 1, 2, 3, 4, 8}),
    "GSME": frozenset({0, 1, 2, 4}),
    "GPF": frozenset({0, 1, 2, 4}),
    "CHF": frozenset({0, 1, 4, 6}),
    "PPMID": frozenset({0, 1, 2, 4}),
    "HCALCS": frozenset({0, 1, 2, 4}),
}
#: (device type, role) whose cell holds a key agreement certificate only: the ACB MACs the
#: commands it sends to meters and signs only what it sends the CHF
KA_ONLY_CELLS = frozenset({("ESME", 4), ("GSME", 4), ("GPF", 4), ("PPMID", 4), ("HCALCS", 4)})
#: roles that are a trust anchor cell of some device type
CELL_ROLES = frozenset().union(*TRUST_ANCHOR_ROLES.values())

#: Alert codes a device raises when a command fails its checks (alert_codes.tsv).
ALERT_FORMAT_FAILED = 0x8F1E     # Integrity check of content or format of command failed
ALERT_MAC_FAILED = 0x8F3E        # Unauthorised Communication Access attempted
ALERT_AUTH_FAILED = 0x8F53       # Failed Authentication or Authorisation not covered by other codes
ALERT_NO_AUTHORITY = 0x8F30      # Source Does not have Authority for Command
ALERT_SIGNATURE_FAILED = 0x8F3D  # Trusted Source Authentication Failure

#: DUIS user roles -> the GBCS remote party role that originates the command on the SMHAN.
#: Import/export/gas suppliers and network operators sign their own commands; "other users"
#: and registered supplier agents reach devices through commands the ACB originates for them.
_USER_ROLE_TO_PARTY = {"IS": ROLE_SUPPLIER, "GS": ROLE_SUPPLIER, "ES": ROLE_SUPPLIER,
                       "ED": ROLE_NETWORK_OPERATOR, "GT": ROLE_NETWORK_OPERATOR,
                       "OU": ROLE_ACB, "RSA": ROLE_ACB}


#: use cases whose authorising role comes from their payload (the credentials replacement
#: mode); the use case logic checks it against the authorising trust anchor cell
_MODE_AUTHORISED = frozenset({"CS02b", "CS02g"})


@dataclass(slots=True)
class RemoteParty:
    """A remote party whose certificates are installed on the device (a trust anchor cell)."""

    eui: int
    role: int
    ds_public_key: ec.EllipticCurvePublicKey | None = None


@dataclass(slots=True)
class SecurityState:
    """The device's security state: installed remote parties and the counters accepted."""

    remote_parties: dict[int, RemoteParty] = field(default_factory=dict)
    #: remote party EUI -> highest originator counter accepted from it
    counters: dict[int, int] = field(default_factory=dict)
    #: failures by alert code (counted, never logged with key material)
    rejected: dict[int, int] = field(default_factory=dict)
    #: trust anchor cells: (role, key usage "80"/"08", cell usage or None) -> (EUI, subject key id hex)
    cells: dict[tuple[int, str, int | None], tuple[int, str]] = field(default_factory=dict)
    #: the Root trust anchor cell (role 0): what certification paths are validated against
    #: (L{protocols.gbcs.pki}); C{None} when the device was provisioned without a root
    root: TrustAnchor | None = None

    def install(self, party: RemoteParty) -> None:
        """Install (or replace) a remote party's certificate."""
        self.remote_parties[party.eui] = party


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a command was rejected: the alert code to raise and a one-line reason."""

    alert_code: int
    reason: str
    frame: Frame | None = None


@cache
def _matrix() -> dict[str, frozenset[str]]:
    path = Path(catalogue.__file__).resolve().parent / "data" / "duis-request-matrix.json"
    roles: dict[str, set[str]] = {}
    for row in json.loads(path.read_text(encoding="utf-8")):
        for ref in {row.get("Service Reference", ""), row.get("Service Reference Variant", "")}:
            if ref:
                roles.setdefault(ref, set()).update(row.get("Eligible User Roles") or ())
    return {k: frozenset(v) for k, v in roles.items()}


@cache
def permitted_roles(message_code: int) -> frozenset[int] | None:
    """Remote party roles allowed to send C{message_code}, or C{None} when GBCS names none here.

    Derived from the DUIS eligible user roles of the use case's service reference (the
    DCC only lets those users send it), mapped to the remote party that originates it.
    """
    uc = catalogue.use_case(message_code)
    if uc is None or not uc.service_reference or uc.name in _MODE_AUTHORISED:
        return None
    users = _matrix().get(uc.service_reference)
    if not users:
        return None
    return frozenset(_USER_ROLE_TO_PARTY[u] for u in users if u in _USER_ROLE_TO_PARTY)


@cache
def han_originator_types() -> dict[int, str]:
    """HAN-only message code -> the device type that originates it, from the GBCS use case
    titles ("Activate Emergency Credit on GSME from PPMID": a PPMID)."""
    table: dict[int, str] = {}
    for uc in catalogue.use_cases():
        m = re.search(r"\b(?:from|using)\s+(PPMID|HCALCS)\b", uc.title) if uc.han_only else None
        if m:
            table[uc.message_code] = m.group(1)
    return table


def check_han_originator(frame: Frame, han_partners: Mapping[int, str]) -> Rejection | None:
    """A HAN-only command (device to device, MACed with the two devices' KA keys) comes from a
    device in the recipient's device log (C{han_partners}: EUI -> device type), of the device
    type that may send its message code; else 0x8F30 (source does not have authority)."""
    gs = frame.signing
    kind = han_partners.get(gs.originator)
    if kind is None:
        return Rejection(ALERT_NO_AUTHORITY, f"originator {gs.originator:016X} is not in the device log", frame)
    allowed = han_originator_types().get(gs.message_code)
    if allowed != kind:
        return Rejection(ALERT_NO_AUTHORITY, f"a {kind} may not send HAN-only message 0x{gs.message_code:04X}", frame)
    return None


def check_command(data: bytes, device_eui: int, state: SecurityState, crypto: GbcsCrypto,
                  han_partners: Callable[[], Mapping[int, str]] | None = None) -> Frame | Rejection:
    """Run the GBCS checks on a received command; return its frame or a L{Rejection}.

    A HAN-only command (PPMID to GSME, ...) is checked against C{han_partners()}, the devices in
    the recipient's device log (EUI -> device type; asked for only then), instead of the remote
    parties (L{check_han_originator}); its MAC, counter and format checks are the same.

    Pure with respect to C{state}: the caller commits the counter (L{SecurityState.counters})
    only after it decided to act on the command.
    """
    try:
        frame = decode_frame(data)
    except CodecError as e:
        return Rejection(ALERT_FORMAT_FAILED, f"malformed message: {e.field} at offset {e.offset}: {e.reason}")
    gs = frame.signing
    if gs.cra_flag != CRA_COMMAND:
        return Rejection(ALERT_FORMAT_FAILED, f"CRA flag {gs.cra_flag} is not a command", frame)
    if gs.recipient != device_eui:
        return Rejection(ALERT_FORMAT_FAILED, f"recipient {gs.recipient:016X} is not this device", frame)
    uc = catalogue.use_case(gs.message_code)
    if uc is None or uc.is_alert:
        return Rejection(ALERT_FORMAT_FAILED, f"message code 0x{gs.message_code:04X} is not a command", frame)
    han_only = uc.han_only
    if frame.ciphering is None:
        # DF-only commands exist only for signed credential recovery use cases
        if not gs.signature:
            return Rejection(ALERT_MAC_FAILED, "command carries neither a MAC nor a signature", frame)
    else:
        lookup = crypto.mac_key(gs, han_only)
        if lookup.key is None:
            return Rejection(ALERT_MAC_FAILED, "no key agreement with the MAC originator", frame)
        expected = crypto.compute_mac(lookup.key, gs, frame.apdu, frame.ciphering.invocation_counter)
        if not hmac.compare_digest(expected, frame.ciphering.mac):
            return Rejection(ALERT_MAC_FAILED, "MAC does not verify", frame)
    if han_only:
        rejection = check_han_originator(frame, han_partners() if han_partners is not None else {})
        if rejection is not None:
            return rejection
        return _fresh(frame, state)
    party = state.remote_parties.get(gs.originator)
    if party is None:
        return Rejection(ALERT_NO_AUTHORITY, f"originator {gs.originator:016X} has no certificate on the device",
                         frame)
    roles = permitted_roles(gs.message_code)
    oi = gs.other_information
    if party.role == ROLE_ACB and roles is not None and (oi.supplementary_remote_party_id is not None
                                                         or uc.criticality == "variant"):
        # the ACB originates on behalf of the supplementary remote party, and sends the
        # non-critical forms of the GBCS "variant" use cases (e.g. CS02f by MAC) itself
        roles = roles | {ROLE_ACB}
    if roles is not None and ROLE_SUPPLIER in roles:
        roles = roles | {ROLE_TRANSITIONAL_COS}     # the transitional CoS party acts for the supplier
    if roles is not None and party.role not in roles:
        return Rejection(ALERT_NO_AUTHORITY, f"role {party.role} may not send {uc.name}", frame)
    if uc.criticality == "critical" and not gs.signature:
        return Rejection(ALERT_SIGNATURE_FAILED, "critical command without a signature", frame)
    if gs.signature:
        if party.ds_public_key is None:
            return Rejection(ALERT_SIGNATURE_FAILED, f"no digital signature certificate for {gs.originator:016X}",
                             frame)
        if not ecdsa_verify(party.ds_public_key, frame.signed_data, gs.signature):
            return Rejection(ALERT_SIGNATURE_FAILED, "signature does not verify", frame)
    return _fresh(frame, state)


def _fresh(frame: Frame, state: SecurityState) -> Frame | Rejection:
    """The originator counter is strictly above the last one accepted from that originator."""
    gs = frame.signing
    last = state.counters.get(gs.originator)
    if last is not None and gs.originator_counter <= last:
        return Rejection(ALERT_AUTH_FAILED, f"originator counter {gs.originator_counter} not above {last}", frame)
    return frame
