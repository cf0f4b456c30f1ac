"""HAN-only GBCS commands: a PPMID tops up (PCS01) or activates emergency credit (PCS02) on its GSME.

GBCS HAN-only messages (spec/gbcs-wire-format.md sections 0 and 2.2) travel device to device:
the originator is the PPMID, the recipient the GSME, and the message MAC is made with the two
devices' own key agreement keys (KDF byte 0x01 for the command, 0x02 for the response), not
with the Access Control Broker's.  The GSME acts on one only when:

  - the MAC verifies (PPMID KA x GSME KA);
  - the originator is a device in the GSME's device log (joined with its certificate, CS03A/C:
    L{emulator.devices.gbcs.asn1_usecases.Asn1State.partners}) of the device type that may send
    that message code (L{HAN_ORIGINATOR_TYPES}, from the use case titles: "... from PPMID");
  - its originator counter is strictly above the last one accepted from that device;

(L{emulator.devices.gbcs.security.check_command}, with the partners L{han_partners} gives), then:

  - PCS01, Prepayment Consumer Top Up (cluster 0x0705 command 4): the UTRN the consumer keyed in
    at the PPMID is checked exactly as one keyed in at a meter (L{emulator.devices.gbcs.keypad}:
    the GSME's supplier's prepayment key, counter bits inferred from the highest accepted); the
    answer is a Consumer Top Up Response whose ResultType is Accepted, Rejected-Invalid or
    Rejected-Duplicate (ZSE D.7.2.4.4);
  - PCS02, Select Available Emergency Credit (cluster 0x0705 command 0): ZSE D.7.2.3.1 - emergency
    credit is available when the credit remaining is at or below the emergency credit threshold,
    the meter has an emergency credit limit and none is in use; selecting it makes the emergency
    credit remaining the limit (Default Response SUCCESS).  Otherwise the meter answers a Default
    Response FAILURE and changes nothing.

The PPMID side (L{originate}, L{read_response}) builds the command with the PPMID's next
originator counter and checks the GSME's answer with the same pair of keys.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from protocols.errors import CodecError
from protocols.gbcs import catalogue
from protocols.gbcs import payloads as gbcs_payloads
from protocols.gbcs.framing import CRA_COMMAND, CRA_RESPONSE, GeneralCiphering, GeneralSigning, OtherInformation, \
    decode_frame
from protocols.gbcs.message import protect
from protocols.gbcs.payloads import gbz
from protocols.zcl.types import ZCL_EPOCH_UNIX

from emulator.devices.gbcs import keypad
from emulator.devices.gbcs.asn1_usecases import DEVICE_TYPE_CODES
from emulator.devices.gbcs.security import han_originator_types

__all__ = ["HAN_ORIGINATOR_TYPES", "PCS01", "PCS02", "TOP_UP_ACCEPTED", "TOP_UP_REJECTED_INVALID",
           "TOP_UP_REJECTED_DUPLICATE", "han_partners", "join_partner", "check_top_up", "top_up_result",
           "select_emergency_credit", "emergency_credit_available", "make_emergency_credit_available",
           "originate", "top_up_command", "emergency_credit_command", "read_response", "take_response",
           "HanAnswer"]

PCS02 = 0x0090      # Activate Emergency Credit on GSME from PPMID
PCS01 = 0x009B      # Apply Prepayment Top Up to a GSME using PPMID

PREPAYMENT = 0x0705
SELECT_AVAILABLE_EMERGENCY_CREDIT = 0x00
CONSUMER_TOP_UP = 0x04
#: ZSE Prepayment attributes the GSME holds
CREDIT_REMAINING, EMERGENCY_CREDIT_REMAINING = 0x0001, 0x0002
EMERGENCY_CREDIT_LIMIT, EMERGENCY_CREDIT_THRESHOLD = 0x0010, 0x0011
#: ZSE OriginatingDevice: the PPMID is an in-home display device
ORIGINATING_DEVICE_IHD = 0x02

#: ZSE Consumer Top Up Response ResultType
TOP_UP_ACCEPTED, TOP_UP_REJECTED_INVALID, TOP_UP_REJECTED_DUPLICATE = 0x00, 0x01, 0x02
_RESULT = {None: TOP_UP_ACCEPTED, keypad.ALERT_UTRN_NOT_AUTHENTIC: TOP_UP_REJECTED_INVALID,
           keypad.ALERT_DUPLICATE_UTRN: TOP_UP_REJECTED_DUPLICATE}
_TYPE_NAMES = {code: name for name, code in DEVICE_TYPE_CODES.items()}
#: emergency credit limit a meter offers when none was configured (GSME currency units: 1/1000 p)
_DEFAULT_EMERGENCY_CREDIT = 500000


#: HAN-only message code -> the device type that originates it (from the GBCS use case titles)
HAN_ORIGINATOR_TYPES = han_originator_types()


# --------------------------------------------------------------------------- the meter's side

def han_partners(device: Any) -> dict[int, str]:
    """The devices in C{device}'s device log: EUI-64 -> device type name."""
    out: dict[int, str] = {}
    for eui, code in device.asn1_state.partners.items():
        try:
            out[int(eui, 16)] = _TYPE_NAMES.get(code, "?")
        except (TypeError, ValueError):
            continue
    return out


def join_partner(device: Any, eui: int, device_type: str) -> None:
    """Put C{eui} (a C{device_type}) in C{device}'s device log, as a CS03A/C join does."""
    device.asn1_state.partners[f"{eui:016X}"] = DEVICE_TYPE_CODES[device_type]


def check_top_up(device: Any, utrn: str) -> keypad.UtrnCheck:
    """PCS01: a UTRN keyed in at the PPMID, checked as one keyed in at the meter."""
    supplier = keypad.installed_supplier(device)
    if supplier is None:
        return keypad.UtrnCheck(keypad.ALERT_UTRN_NOT_AUTHENTIC)
    return keypad.check_local_utrn(device, utrn, supplier)


def top_up_result(check: keypad.UtrnCheck) -> int:
    """The Consumer Top Up Response ResultType for a checked UTRN."""
    return _RESULT.get(check.alert, TOP_UP_REJECTED_INVALID)


def emergency_credit_available(device: Any) -> bool:
    """ZSE: credit at or below the threshold, a limit configured, no emergency credit in use."""
    a = device.zcl.attributes
    return (int(a.get((PREPAYMENT, EMERGENCY_CREDIT_LIMIT), 0)) > 0
            and int(a.get((PREPAYMENT, EMERGENCY_CREDIT_REMAINING), 0)) <= 0
            and int(a.get((PREPAYMENT, CREDIT_REMAINING), 0)) <= int(a.get((PREPAYMENT, EMERGENCY_CREDIT_THRESHOLD), 0)))


def make_emergency_credit_available(device: Any) -> None:
    """Stage a meter on which emergency credit can be selected (credit run down to the threshold)."""
    a = device.zcl.attributes
    if int(a.get((PREPAYMENT, EMERGENCY_CREDIT_LIMIT), 0)) <= 0:
        a[(PREPAYMENT, EMERGENCY_CREDIT_LIMIT)] = _DEFAULT_EMERGENCY_CREDIT
    a[(PREPAYMENT, EMERGENCY_CREDIT_REMAINING)] = 0
    a[(PREPAYMENT, CREDIT_REMAINING)] = min(int(a.get((PREPAYMENT, CREDIT_REMAINING), 0)),
                                           int(a.get((PREPAYMENT, EMERGENCY_CREDIT_THRESHOLD), 0)))


def select_emergency_credit(device: Any, payload: dict) -> tuple[int, int, dict] | None:
    """PCS02, Select Available Emergency Credit: C{None} (Default Response SUCCESS) when it is
    activated, else a FAILURE status and no change."""
    if not emergency_credit_available(device):
        from protocols.zcl.foundation import Status
        return int(Status.FAILURE), SELECT_AVAILABLE_EMERGENCY_CREDIT, {}
    a = device.zcl.attributes
    a[(PREPAYMENT, EMERGENCY_CREDIT_REMAINING)] = int(a[(PREPAYMENT, EMERGENCY_CREDIT_LIMIT)])
    return None


# --------------------------------------------------------------------------- the PPMID's side

def originate(device: Any, recipient: int, message_code: int, component: dict) -> bytes:
    """A HAN-only command from C{device} to C{recipient}, MACed with their KA keys (KDF 0x01),
    carrying one GBZ C{component}, with the originator's next counter."""
    counter = getattr(device, "han_command_counter", 0) + 1
    device.han_command_counter = counter
    content = gbcs_payloads.encode_payload({"kind": "gbz", "profile_id": gbz.GBZ_PROFILE_ID,
                                            "components": [component]})
    gs = GeneralSigning(CRA_COMMAND, counter, device.eui, recipient, None, OtherInformation(message_code),
                        content, b"")
    return protect(gs, device.crypto, GeneralCiphering(b""))


def top_up_command(device: Any, gsme: int, utrn: str) -> bytes:
    """PCS01: the consumer keyed C{utrn} in at the PPMID C{device}."""
    utrn = utrn.replace(" ", "")
    comp = gbz.build_component(PREPAYMENT, 0x01, 0, CONSUMER_TOP_UP,
                               {"OriginatingDevice": ORIGINATING_DEVICE_IHD,
                                "TopUpCode": utrn.encode("ascii").hex().upper()}, last=True)
    return originate(device, gsme, PCS01, comp)


def emergency_credit_command(device: Any, gsme: int) -> bytes:
    """PCS02: the consumer asked the PPMID C{device} for emergency credit."""
    comp = gbz.build_component(PREPAYMENT, 0x01, 0, SELECT_AVAILABLE_EMERGENCY_CREDIT,
                               {"CommandIssueDateTime": max(0, int(device.now()) - ZCL_EPOCH_UNIX),
                                "OriginatingDevice": ORIGINATING_DEVICE_IHD}, last=True)
    return originate(device, gsme, PCS02, comp)


def read_response(device: Any, data: bytes) -> dict:
    """The payload of a HAN-only response to C{device}, after checking it is one, answers a
    command C{device} sent and its MAC (GSME KA x PPMID KA, KDF 0x02) verifies; L{CodecError}
    otherwise."""
    frame = decode_frame(data)
    gs = frame.signing
    if gs.cra_flag != CRA_RESPONSE or gs.recipient != device.eui or not catalogue.is_han_only(gs.message_code):
        raise CodecError("han_response", 0, "not a HAN-only response to this device")
    if not 0 < gs.originator_counter <= getattr(device, "han_command_counter", 0):
        raise CodecError("han_response.counter", 0, f"counter {gs.originator_counter} answers no command sent")
    if frame.ciphering is None:
        raise CodecError("han_response.mac", 0, "response carries no MAC")
    lookup = device.crypto.mac_key(gs, True)
    if lookup.key is None:
        raise CodecError("han_response.mac", 0, f"no key agreement with {gs.originator:016X}")
    expected = device.crypto.compute_mac(lookup.key, gs, frame.apdu, frame.ciphering.invocation_counter)
    if not hmac.compare_digest(expected, frame.ciphering.mac):
        raise CodecError("han_response.mac", 0, "MAC does not verify")
    return gbcs_payloads.decode_payload(gs.message_code, gs.cra_flag, gs.content, device.crypto.payload_crypto(gs))


@dataclass(frozen=True, slots=True)
class HanAnswer:
    """What the PPMID learnt from one HAN-only response: the use case, the counter it answers,
    and the ZCL answer (command id and payload), or why the response was refused."""

    message_code: int
    counter: int
    command_id: int | None = None
    payload: dict | None = None
    error: str = ""


def take_response(device: Any, data: bytes) -> bool:
    """Handle C{data} at the PPMID if it is a HAN-only response (True); the answer, or why it
    was refused, is appended to C{device.han_answers} (a refused one is also counted in
    C{device.han_responses_refused})."""
    try:
        gs = decode_frame(data).signing
    except CodecError:
        return False
    if gs.cra_flag != CRA_RESPONSE or not catalogue.is_han_only(gs.message_code):
        return False
    answers = device.__dict__.setdefault("han_answers", [])
    try:
        tree = read_response(device, data)
        (comp,) = tree.get("components") or [None]
        z = (comp or {}).get("zcl") or {}
        answers.append(HanAnswer(gs.message_code, gs.originator_counter, z.get("command_id"), z.get("payload")))
    except (CodecError, ValueError) as e:
        device.han_responses_refused = getattr(device, "han_responses_refused", 0) + 1
        answers.append(HanAnswer(gs.message_code, gs.originator_counter, error=str(getattr(e, "reason", e))))
    return True
