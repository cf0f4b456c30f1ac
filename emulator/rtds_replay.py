"""C{smets rtds replay DIR --keys DIR}: deliver DCC reference commands to emulated devices and
compare their answers with the reference responses and alerts.

For each reference test in DIR (a C{*_COMMAND_GBCS.HEX} with its C{*_RESPONSE_GBCS.HEX} and the
C{*_ALERT*} files of the same variant) whose target device type is emulated and whose use
case the device implements:

  1. a home is provisioned from the key store (L{emulator.devices.gbcs.provisioning}): the
     device carries the reference EUI-64 and keys and one remote party per role, the command's
     originator (and the party the ACB acts for) among them;
  2. the device is put in the state the test needs, derived from the command and the variant
     the file name gives:
       - a log the command reads holds the entries the reference device published in its
         response (L{GbcsDevice.stage_history}: the reference device's log was its state);
         which of them answer which item (period, cause, offset, "not found") is the device's
         own logic;
       - SUCCESS (and other) variants: the preconditions the command states hold
         (L{GbcsDevice.prepare}: a device it unjoins or removes from a log is there, a log it
         reads has entries in the period it reads);
       - NOT_FOUND variants: the data the command reads is absent (L{GbcsDevice.forget});
       - ERROR variants: either the device already refuses the command on its own
         (L{GbcsDevice.predicts_error}: an unknown partner, an inauthentic UTRN, a certificate
         that does not chain, a clock outside the validity interval...), or, where RTDS ERROR
         commands are byte-identical to their SUCCESS commands, the failure is the device's
         own condition: a hardware fault in the part the reference device reported failed
         (the first item whose result is neither success nor "other reason"/FAILURE), injected
         as device state.  What the device does from there (stop processing, answer other-reason
         or FAILURE for the remaining items, change nothing else) is its own logic;
       - TWIN variants: the meter is a twin-element ESME (profile entries carry more registers);
  3. the command is delivered in virtual time through one emulated home built once for the
     whole run (L{emulator.rtds_home.ReplayHome}): it enters at the Communications Hub as from
     the WAN, the CHF routes it by its business recipient (its own CHF or GPF at once; the
     ESME pushed through its GB-HRGP tunnel; the sleepy GSME's queued until its next wake),
     over the HAN with APS/NWK security and APS fragmentation, and the device's response and
     alerts come back the same way to where the CH hands messages to the WAN.  Each test
     plugs a freshly provisioned device in as the application of its HAN node (no state
     leaks between tests) with its clock set to the reference devices' time; for a future-
     dated command the device's clock is stepped to the last reference alert's time.  Device
     types with no node on the HAN (PPMID, HCALCS) take the command at their GBCS endpoint
     directly; C{--direct} does that for every device type;
  4. the answer is compared with the reference: message code, CRA, counter echoed,
     originator/recipient swapped, other-information, grouping-header date-time present or
     not, the protection (MAC or signature, and it verifies under the home's keys), the
     payload structure (DLMS result codes and data types per item, protected data decrypted;
     GBZ components, cluster/command ids, statuses, record types, outcome fields; ASN.1
     outcomes, identities and certificates by value), and the alerts (message code, alert
     code, future-dated descriptor, protection).  An alert of another use case the command
     raised as a side effect (CS14 after a CCS01), which RTDS keeps in that use case's own test,
     is set aside and reported when the reference lists no alert of its message code
     (L{side_effect_alerts}).

Tests of device types or use cases not emulated, and error variants whose condition the device
cannot be put in, are counted as "not emulated", never passed.  The inventory (which EUI is
which device type) is inferred from the use cases addressed to each EUI in DIR.
"""

from __future__ import annotations

import argparse
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from protocols.errors import CodecError
from protocols.gbcs import catalogue
from protocols.gbcs.crypto import GbcsCrypto
from protocols.gbcs.framing import CRA_RESPONSE, decode_frame
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.message import VERIFIED, DecodedMessage, decode_message
from protocols.gbcs.pki import TrustAnchor
from protocols.zcl.foundation import GlobalCommand, Status
from protocols.zcl.types import ZCL_EPOCH_UNIX

from emulator.devices.gbcs import DEVICE_CLASSES
from emulator.devices.gbcs.cosem import OTHER_REASON, SUCCESS
from emulator.devices.gbcs.device import GbcsDevice
from emulator.devices.gbcs.provisioning import acb_eui, install_party, provide_ka_key, provision
from emulator.pki_recovery import replay_root
from emulator.rtds_alerts import CAUSES, AlertContext, cause_for
from emulator.rtds_home import DirectStage, ReplayHome, Stage

__all__ = ["ReferenceTest", "Outcome", "find_tests", "infer_inventory", "replay_test", "replay_alert", "replay",
           "compare_payload", "side_effect_alerts", "Homes", "main", "han_only_unkeyed", "rekey_han_only",
           "utrn_not_authentic"]

#: RTDS devices' clock: the reference responses are stamped 2015-01-01T00:00:00
_START = 1420070400.0


def _read_hex(path: Path) -> bytes:
    text = path.read_text(encoding="ascii", errors="replace")
    return bytes.fromhex("".join(text.split()))


@dataclass(slots=True)
class ReferenceTest:
    """One reference test: the command, the expected response and alerts."""

    name: str
    command: Path
    response: Path | None
    alerts: list[Path] = field(default_factory=list)

    @property
    def expects_error(self) -> bool:
        return "_ERROR" in self.name


@dataclass(slots=True)
class Outcome:
    """The result of one test: C{status} passed / failed / not emulated, with the reason."""

    test: str
    status: str
    device_type: str
    reason: str = ""
    #: how the command reached the device: "tunnel" (CHF, GB-HRGP tunnel, HAN), "chf" (the
    #: CH's own CHF or GPF), "direct" (no HAN node of that type); empty when not delivered
    route: str = ""
    #: alerts of another use case the command caused and the reference test does not list
    #: (L{side_effect_alerts}): not compared, reported ("0x0018 CS14 alert 0x8F12")
    set_aside: tuple[str, ...] = ()


# --------------------------------------------------------------------------- discovery

def _variant_key(stem: str) -> str:
    """Test stem of an alert file: drop the alert code token and what follows C{_ALERT}."""
    head = stem.split("_ALERT", 1)[0]
    parts = head.split("_")
    return "_".join(p for i, p in enumerate(parts)
                    if not (i >= 2 and len(p) == 4 and all(ch in "0123456789ABCDEF" for ch in p)))


def find_tests(directory: Path) -> tuple[list[ReferenceTest], list[Path]]:
    """All command tests under C{directory}, and the alert files no command explains."""
    tests: list[ReferenceTest] = []
    orphans: list[Path] = []
    for folder, _dirs, files in sorted(os.walk(directory)):
        names = sorted(f for f in files if f.upper().endswith("_GBCS.HEX"))
        by_stem: dict[str, ReferenceTest] = {}
        for f in names:
            if f.endswith("_COMMAND_GBCS.HEX"):
                stem = f[:-len("_COMMAND_GBCS.HEX")]
                resp = Path(folder, stem + "_RESPONSE_GBCS.HEX")
                t = ReferenceTest(stem, Path(folder, f), resp if resp.exists() else None)
                by_stem[stem] = t
                tests.append(t)
        for f in names:
            if "_ALERT" in f:
                t = by_stem.get(_variant_key(f[:-len("_GBCS.HEX")]))
                if t is None:
                    orphans.append(Path(folder, f))
                else:
                    t.alerts.append(Path(folder, f))
    return tests, orphans


def _targets(uc: catalogue.UseCase) -> tuple[str, ...]:
    """Device types a command of C{uc} can be addressed to (the GPF answers GSME GBZ reads)."""
    t = uc.target_device_types
    if "GSME" in t and "GPF" not in t and uc.payload_kind == "gbz":
        t = t + ("GPF",)
    return t


def infer_inventory(tests: Iterable[ReferenceTest]) -> dict[int, str]:
    """EUI-64 -> device type: the type the use cases addressed to that EUI point at most
    (each command votes 1/n for each of its use case's n possible target types)."""
    votes: dict[int, Counter] = {}
    for t in tests:
        try:
            gs = decode_frame(_read_hex(t.command)).signing
        except (CodecError, ValueError, OSError):
            continue
        uc = catalogue.use_case(gs.message_code)
        if uc is None:
            continue
        targets = _targets(uc)
        for dev in targets:
            votes.setdefault(gs.recipient, Counter())[dev] += 1.0 / len(targets)
    return {eui: c.most_common(1)[0][0] for eui, c in votes.items()}


# --------------------------------------------------------------------------- comparison

def _shape_diff(ref: dict, got: dict, where: str) -> str | None:
    """First difference of DLMS data types between two Data trees (values are state)."""
    rt, gt = ref.get("type"), got.get("type")
    if rt != gt:
        return f"{where}: data type {gt}, expected {rt}"
    if rt == "structure":
        rv, gv = ref.get("value") or [], got.get("value") or []
        if len(rv) != len(gv):
            return f"{where}: structure of {len(gv)} members, expected {len(rv)}"
        for i, (a, b) in enumerate(zip(rv, gv)):
            d = _shape_diff(a, b, f"{where}[{i}]")
            if d:
                return d
    elif rt == "array":
        rv, gv = ref.get("value") or [], got.get("value") or []
        for i, (a, b) in enumerate(zip(rv, gv)):       # element count is meter state
            d = _shape_diff(a, b, f"{where}[{i}]")
            if d:
                return d
    elif rt == "compact-array":
        if ref.get("type_description") != got.get("type_description"):
            return f"{where}: compact-array type description differs"
    elif rt == "octet-string" and ("protected" in ref or "protected" in got):
        rp, gp = ref.get("protected") or {}, got.get("protected") or {}
        if "plaintext" not in rp or "plaintext" not in gp:
            return f"{where}: protected data " + ("not decryptable" if "plaintext" not in gp else "expected")
        return _shape_diff(rp["plaintext"], gp["plaintext"], f"{where}.plaintext")
    return None


def compare_payload(ref: dict, got: dict) -> str | None:
    """First structural difference between a reference payload tree and the device's."""
    if ref.get("kind") != got.get("kind"):
        return f"payload kind {got.get('kind')}, expected {ref.get('kind')}"
    if ref["kind"] == "dlms":
        if ref.get("apdu") != got.get("apdu"):
            return f"DLMS APDU {got.get('apdu')}, expected {ref.get('apdu')}"
        # a response echoes the command's invoke id; an alert's follows the device's own counter
        if ref["apdu"] != "Data-Notification" and \
                ref.get("long_invoke_id_and_priority") != got.get("long_invoke_id_and_priority"):
            return "DLMS invoke id differs"
        if ref["apdu"] == "Access-Response":
            rs = ref.get("access_response_specification") or []
            gs = got.get("access_response_specification") or []
            if len(rs) != len(gs):
                return f"{len(gs)} response items, expected {len(rs)}"
            for i, (a, b) in enumerate(zip(rs, gs)):
                if a.get("choice") != b.get("choice") or a.get("result") != b.get("result"):
                    return (f"item {i}: {b.get('choice')} result {b.get('result')}, "
                            f"expected {a.get('choice')} result {a.get('result')}")
            rd = ref.get("access_response_list_of_data") or []
            gd = got.get("access_response_list_of_data") or []
            if len(rd) != len(gd):
                return f"{len(gd)} data items, expected {len(rd)}"
            for i, (a, b) in enumerate(zip(rd, gd)):
                d = _shape_diff(a, b, f"item {i}")
                if d:
                    return d
            return None
        d = _shape_diff(ref.get("notification_body") or {}, got.get("notification_body") or {}, "body")
        return d
    if ref["kind"] == "gbz":
        return _compare_gbz(ref, got)
    if ref.get("asn1_type") != got.get("asn1_type"):
        return f"ASN.1 type {got.get('asn1_type')}, expected {ref.get('asn1_type')}"
    return _compare_asn1(ref.get("value"), got.get("value"), "asn1")


#: ASN.1 response fields whose value is device state or time (compared by kind only)
_ASN1_STATE_FIELDS = frozenset({"deviceTime", "currentSeqNumber", "firmwareVersion",
                                "existingSubjectUniqueID", "existingSubjectKeyIdentifier"})


def _compare_asn1(ref: object, got: object, where: str) -> str | None:
    """ASN.1 values: outcomes, roles, identities and certificates must be equal; state by kind."""
    if isinstance(ref, dict) and isinstance(got, dict):
        if set(ref) != set(got):
            return f"{where}: fields {sorted(set(ref) ^ set(got))} differ"
        for k in sorted(ref):
            d = (_compare_values(ref[k], got[k], f"{where}.{k}") if k in _ASN1_STATE_FIELDS
                 else _compare_asn1(ref[k], got[k], f"{where}.{k}"))
            if d:
                return d
        return None
    if isinstance(ref, list) and isinstance(got, list):
        if len(ref) != len(got):
            return f"{where}: {len(got)} elements, expected {len(ref)}"
        for i, (a, b) in enumerate(zip(ref, got)):
            d = _compare_asn1(a, b, f"{where}[{i}]")
            if d:
                return d
        return None
    return None if ref == got else f"{where}: {got!r}, expected {ref!r}"


def _value_shape(v: object) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "dict"
    return "null"


#: ZCL payload fields that report an outcome: compared by value
_OUTCOME_FIELDS = frozenset({"ResultType", "Status"})


def _compare_values(ref: object, got: object, where: str) -> str | None:
    """Same structure: dict keys, list element shapes (pairwise; counts are state), scalar kinds;
    outcome fields (L{_OUTCOME_FIELDS}) by value."""
    if where.rsplit(".", 1)[-1] in _OUTCOME_FIELDS and ref != got:
        return f"{where}: {got!r}, expected {ref!r}"
    rs, gs = _value_shape(ref), _value_shape(got)
    if rs != gs and not ({rs, gs} <= {"string", "dict"}):    # ZCL strings decode as text or {"hex"}
        return f"{where}: {gs}, expected {rs}"
    if rs == "dict" and gs == "dict":
        rk, gk = set(ref) - _ANNOTATIONS, set(got) - _ANNOTATIONS   # type: ignore[arg-type]
        if rk != gk:
            return f"{where}: fields {sorted(gk ^ rk)} differ"
        for k in sorted(rk):
            d = _compare_values(ref[k], got[k], f"{where}.{k}")   # type: ignore[index]
            if d:
                return d
    elif rs == "list":
        for i, (a, b) in enumerate(zip(ref, got)):                 # type: ignore[arg-type]
            d = _compare_values(a, b, f"{where}[{i}]")
            if d:
                return d
    return None


#: decoder annotations (names for numbers) that are not part of the wire structure
_ANNOTATIONS = frozenset({"StatusName", "AttributeName", "DataTypeName", "cluster_name", "command",
                          "frame_type", "direction", "from_date_time_iso", "alert_name"})


def _zcl_body(comp: dict) -> dict:
    z = comp.get("zcl") or {}
    if comp.get("encrypted"):
        return (z.get("ciphered_information") or {}).get("plaintext") or {}
    return z.get("payload") or {}


def _runs(components: list) -> list:
    """Collapse runs of the same cluster-specific response (one Publish Day Profile per day
    profile, ...): how many parts a calendar or log has is meter state."""
    out: list = []
    prev = None
    for c in components:
        z = c.get("zcl") or {}
        key = (c.get("cluster_id"), z.get("frame_control", 0) & 0x0B, z.get("command_id"))
        if key == prev and key[1] & 0x03 == 0x01:
            continue
        out.append(c)
        prev = key
    return out


def _compare_gbz(ref: dict, got: dict) -> str | None:
    rc, gc = _runs(ref.get("components") or []), _runs(got.get("components") or [])
    if len(rc) != len(gc):
        return f"{len(gc)} GBZ components, expected {len(rc)}"
    for i, (a, b) in enumerate(zip(rc, gc)):
        za, zb = a.get("zcl") or {}, b.get("zcl") or {}
        if a.get("cluster_id") != b.get("cluster_id"):
            return f"component {i}: cluster 0x{b.get('cluster_id', 0):04X}, expected 0x{a.get('cluster_id', 0):04X}"
        if bool(a.get("encrypted")) != bool(b.get("encrypted")):
            return f"component {i}: " + ("encrypted" if b.get("encrypted") else "not encrypted")
        # frame type and direction (bits 0-1, 3); the disable-default-response bit is not compared,
        # nor the direction of a Default Response (RTDS devices answer a failed Get Event
        # Configuration server-to-client, every other failed command client-to-server)
        mask = 0x03 if (za.get("frame_control", 0) & 0x03) == 0 and za.get("command_id") == 0x0B else 0x0B
        if (za.get("frame_control", 0) & mask) != (zb.get("frame_control", 0) & mask) \
                or za.get("command_id") != zb.get("command_id"):
            return (f"component {i}: frame control 0x{zb.get('frame_control', 0):02X} command "
                    f"{zb.get('command_id')}, expected 0x{za.get('frame_control', 0):02X} command {za.get('command_id')}")
        pa, pb = _zcl_body(a), _zcl_body(b)
        if "Records" in pa:
            ra, rb = pa.get("Records") or [], pb.get("Records") or []
            if [(r.get("AttributeID"), r.get("Status"), r.get("DataType")) for r in ra] != \
                    [(r.get("AttributeID"), r.get("Status"), r.get("DataType")) for r in rb]:
                return (f"component {i}: records {[(r.get('AttributeID'), r.get('Status'), r.get('DataType')) for r in rb]}"
                        f", expected {[(r.get('AttributeID'), r.get('Status'), r.get('DataType')) for r in ra]}")
            continue
        if za.get("command_id") == 0x0B and (za.get("frame_control", 0) & 0x03) == 0:   # Default Response
            if (pa.get("CommandID"), pa.get("Status")) != (pb.get("CommandID"), pb.get("Status")):
                return (f"component {i}: default response ({pb.get('CommandID')}, {pb.get('Status')}), "
                        f"expected ({pa.get('CommandID')}, {pa.get('Status')})")
            continue
        d = _compare_values(pa, pb, f"component {i}")
        if d:
            return d
    return None


def _alert_key(msg: DecodedMessage) -> tuple:
    """What an alert must match: its message code, alert code and the state-independent
    use-case data (the future-dated command descriptor)."""
    p = msg.payload or {}
    fd = (p.get("alert") or {}).get("future_dated") or p.get("future_dated_alert")
    # the GBZ descriptor's frame control is not compared: RTDS devices disagree on it (the
    # GCS01b alerts keep the publish command's 0x09, the GCS05 ones report 0x01)
    fd_key = tuple(sorted((k, v) for k, v in fd.items() if k not in ("frame_control", "command"))) \
        if isinstance(fd, dict) else ()
    return (msg.frame.signing.message_code, _alert_code(msg) or 0, fd_key)


def _alert_code(msg: DecodedMessage) -> int | None:
    p = msg.payload or {}
    if isinstance(p.get("alert"), dict):
        return p["alert"].get("alert_code")
    if isinstance(p.get("alert_code"), int):
        return p["alert_code"]
    v = p.get("value")
    if isinstance(v, dict) and isinstance(v.get("alertCode"), int):
        return v["alertCode"]
    return None


def _compare_response(ref: DecodedMessage, got: DecodedMessage, command: DecodedMessage) -> str | None:
    rg, gg, cg = ref.frame.signing, got.frame.signing, command.frame.signing
    if gg.cra_flag != CRA_RESPONSE:
        return "answer is not a response"
    if gg.message_code != cg.message_code:
        return f"message code 0x{gg.message_code:04X}, expected 0x{cg.message_code:04X}"
    if gg.originator_counter != cg.originator_counter:
        return f"counter {gg.originator_counter} does not echo the command's {cg.originator_counter}"
    if gg.originator != cg.recipient or gg.recipient != cg.originator:
        return "originator/recipient not swapped"
    ro, go = rg.other_information, gg.other_information
    if (ro.message_code, ro.supplementary_remote_party_id, ro.supplementary_remote_party_counter) != \
            (go.message_code, go.supplementary_remote_party_id, go.supplementary_remote_party_counter):
        return "other-information differs"
    if (rg.date_time is None) != (gg.date_time is None):
        return "grouping-header date-time " + ("missing" if gg.date_time is None else "unexpected")
    if (ref.frame.ciphering is None) != (got.frame.ciphering is None):
        return "protection differs: " + ("MAC-wrapped" if got.frame.ciphering else "DF only") + \
            ", expected " + ("MAC-wrapped" if ref.frame.ciphering else "DF only")
    if bool(rg.signature) != bool(gg.signature):
        return "signature " + ("present" if gg.signature else "missing")
    if got.frame.ciphering is not None and got.verification.mac != VERIFIED:
        return f"MAC {got.verification.mac} {got.verification.mac_detail}".strip()
    if gg.signature and got.verification.signature != VERIFIED:
        return f"signature {got.verification.signature} {got.verification.signature_detail}".strip()
    return compare_payload(ref.payload or {}, got.payload or {})


# --------------------------------------------------------------------------- replay

class Homes:
    """Where tests are staged: the replay home on a HAN (built once, reused), or a
    L{DirectStage} for the device types with no node on the HAN (and for all with C{han=False})."""

    def __init__(self, inventory: dict[int, str], seed: int, han: bool = True) -> None:
        self.home = ReplayHome(inventory, seed, _START) if han else None

    def stage(self, eui: int) -> Stage | DirectStage:
        if self.home is not None and self.home.hosts(eui):
            return self.home.stage(eui, _START)
        return DirectStage(_START)

    def close(self) -> None:
        if self.home is not None:
            self.home.close()


def _alert_time(msg: DecodedMessage) -> float | None:
    """When a reference alert was raised (Unix seconds), from its payload time stamp."""
    p = msg.payload or {}
    if p.get("kind") == "gbz" and isinstance(p.get("time_stamp"), int):
        return float(p["time_stamp"] + ZCL_EPOCH_UNIX)
    if p.get("kind") == "asn1" and isinstance(p.get("value"), dict):
        gt = p["value"].get("executionDateTime") or p["value"].get("dateTime")
        text = gt.get("generalized_time") if isinstance(gt, dict) else None
        if isinstance(text, str):
            import calendar
            import time as _time
            try:
                return float(calendar.timegm(_time.strptime(text, "%Y%m%d%H%M%SZ")))
            except ValueError:
                return None
    body = p.get("notification_body") or {}
    members = body.get("value") if body.get("type") == "structure" else None
    if members and len(members) > 1 and members[1].get("type") == "octet-string":
        from emulator.devices.gbcs.dlms_device import decode_activation_time
        t = decode_activation_time(bytes.fromhex(members[1].get("value", "")))
        return t if isinstance(t, float) else None
    return None


def _pair_components(response: list, command: list) -> list:
    """Each command component with the response component(s) that answer it: one each when
    there are as many as commands (a log read answered entry by entry), else one run of
    responses per command component (a get answered by several publishes)."""
    return list(zip(response if len(response) == len(command) else _runs(response), command))


def _inject_error_state(device: GbcsDevice, ref: DecodedMessage, command: DecodedMessage) -> bool:
    """Put the device in the fault condition the ERROR reference shows; False if none applies.

    The fault is the first item the reference device reported as failed by itself (not the
    "other reason" / FAILURE it gives to the items it then skipped).
    """
    rp, cp = ref.payload or {}, command.payload or {}
    model = getattr(device, "model", None)
    if model is not None and rp.get("apdu") == "Access-Response" and cp.get("apdu") == "Access-Request":
        specs = cp.get("access_request_specification") or []
        for spec, res in zip(specs, rp.get("access_response_specification") or []):
            if res.get("result") not in (SUCCESS, OTHER_REASON):
                kind = spec["choice"].replace("access-request-", "").replace("-with-selection", "")
                item = spec.get("method_id") if kind == "action" else spec.get("attribute_id")
                model.faults[(spec["class_id"], spec["obis"], kind, item)] = res["result"]
                return True
        return False
    zcl = getattr(device, "zcl", None)
    if zcl is not None and rp.get("kind") == "gbz" and cp.get("kind") == "gbz":
        for rc, cc in _pair_components(rp.get("components") or [], cp.get("components") or []):
            z = rc.get("zcl") or {}
            body = z.get("payload") or (z.get("ciphered_information") or {}).get("plaintext") or {}
            for r in body.get("Records") or []:
                if r.get("Status") not in (Status.SUCCESS, Status.UNSUPPORTED_ATTRIBUTE):
                    zcl.faults[(rc["cluster_id"], "read", r["AttributeID"])] = r["Status"]
                    return True
            # (not FAILURE: the items skipped after a fault; not NOT_FOUND: nothing to report)
            if z.get("command_id") == GlobalCommand.DEFAULT_RESPONSE and (z.get("frame_control", 0) & 0x03) == 0 \
                    and body.get("Status") not in (Status.SUCCESS, Status.FAILURE, Status.NOT_FOUND) \
                    and body.get("CommandID") != 0xFF:
                # the fault is in what this command addresses (e.g. one debt register)
                zcl.command_faults.append((cc["cluster_id"], cc["zcl"]["command_id"],
                                           cc["zcl"].get("payload"), body["Status"]))
                return True
    return False


def replay_test(test: ReferenceTest, inventory: dict[int, str], keys: Path, ref_crypto: GbcsCrypto,
                homes: Homes, seed: int = 1, root: TrustAnchor | None = None) -> Outcome:
    """Replay one reference test on a freshly provisioned device of the home (with C{root} as
    its Root trust anchor, L{emulator.pki_recovery.replay_root})."""
    try:
        command = decode_message(_read_hex(test.command), ref_crypto)
    except (CodecError, ValueError, OSError) as e:
        return Outcome(test.name, "failed", "?", f"reference command unreadable: {e}")
    cg = command.frame.signing
    device_type = inventory.get(cg.recipient, "?")
    rekey = han_only_unkeyed(command)      # re-MACed with the home's keys for the device pair
    if not rekey and (command.verification.mac == "no-key" or command.verification.signature == "no-key"):
        return Outcome(test.name, "not emulated", device_type,
                       "the key store cannot authenticate the reference command "
                       f"({command.verification.mac_detail or command.verification.signature_detail})")
    cls = DEVICE_CLASSES.get(device_type)
    if cls is None:
        return Outcome(test.name, "not emulated", device_type, f"device type {device_type} not emulated")
    if test.response is None:
        return Outcome(test.name, "not emulated", device_type, "no reference response")
    try:
        ref = decode_message(_read_hex(test.response), ref_crypto)
        ref_alerts = [decode_message(_read_hex(a), ref_crypto) for a in test.alerts]
    except (CodecError, ValueError, OSError) as e:
        return Outcome(test.name, "failed", device_type, f"reference unreadable: {e}")
    why = utrn_not_authentic(command, ref, ref_crypto.keystore)
    if why:
        return Outcome(test.name, "not emulated", device_type, why)
    for a in ref_alerts:
        if a.frame.signing.message_code not in cls.alert_codes:
            return Outcome(test.name, "not emulated", device_type,
                           f"alert message code 0x{a.frame.signing.message_code:04X} not raised by {device_type}")
    stage = homes.stage(cg.recipient)
    try:
        outcome = _replay_staged(test, command, ref, ref_alerts, cls, device_type, keys, stage, seed, root,
                                 rekey=rekey)
    finally:
        stage.close()
    if stage.outcome:
        outcome.route = stage.route
    if rekey and outcome.status != "not emulated":
        note = (f"MAC re-applied with the home's KA keys for {cg.originator:016X} x {cg.recipient:016X} "
                "(the reference key store has no key for this HAN-only device pair)")
        outcome.reason = f"{note}: {outcome.reason}" if outcome.reason else note
    return outcome


def _replay_staged(test: ReferenceTest, command: DecodedMessage, ref: DecodedMessage,
                   ref_alerts: list[DecodedMessage], cls: type[GbcsDevice], device_type: str, keys: Path,
                   stage: Stage | DirectStage, seed: int, root: TrustAnchor | None = None, *,
                   rekey: bool = False) -> Outcome:
    cg = command.frame.signing
    home_keys = KeyStore(keys)
    if rekey:
        provide_ka_key(home_keys, cg.originator, cg.recipient, seed)
    device = provision(cls, cg.recipient, home_keys, stage.clock, stage.send, rng=random.Random(seed), root=root)
    stage.attach(device)
    data = _read_hex(test.command)
    if rekey:
        data = rekey_han_only(command.frame, device, home_keys)
    if not device.supports(cg.message_code) or not device.accepts(command.frame):
        uc = catalogue.use_case(cg.message_code)
        return Outcome(test.name, "not emulated", device_type,
                       f"use case {uc.name if uc else hex(cg.message_code)} not implemented by {device_type}")
    # the command's originator (and the party the ACB acts for) are the device's remote parties
    for eui in (cg.originator, cg.other_information.supplementary_remote_party_id):
        if eui is not None and eui not in device.security.remote_parties:
            install_party(device, home_keys, eui)
    if "_TWIN" in test.name and getattr(device, "model", None) is not None:
        device.model.twin = True        # the reference device is a twin-element meter
    # a log the command reads holds what the reference device published from it (its history)
    device.stage_history(command.frame, command.payload or {}, ref.payload or {})
    if test.expects_error:
        # a fresh device may already fail the command (e.g. unjoin of an unknown device);
        # otherwise the failure is a fault of the device in the part the command addresses
        if not device.predicts_error(command.frame, command.payload or {}) \
                and not _inject_error_state(device, ref, command) \
                and not device.stage_error(command.frame, command.payload or {}):
            return Outcome(test.name, "not emulated", device_type, "error condition not modelled")
    elif "_NOT_FOUND" in test.name:
        device.forget(command.frame, command.payload or {})     # the data read is absent
    else:
        device.prepare(command.frame, command.payload or {})
    stage.deliver(data)
    # let the device run until the last reference alert was raised (future-dated execution)
    times = [t for t in (_alert_time(a) for a in ref_alerts) if t is not None]
    if times and max(times) > stage.clock.seconds():
        stage.run_until(max(times))
    home_crypto = GbcsCrypto(home_keys, acb_eui(home_keys))
    answers = []
    for msg in stage.sent:
        try:
            answers.append(decode_message(msg, home_crypto))
        except CodecError as e:
            return Outcome(test.name, "failed", device_type, f"device sent an undecodable message: {e}")
    responses = [m for m in answers if m.frame.signing.cra_flag == CRA_RESPONSE]
    alerts = [m for m in answers if m.frame.signing.cra_flag != CRA_RESPONSE]
    if len(responses) != 1:
        why = device.last_rejection.reason if device.last_rejection else ""
        if stage.outcome not in ("direct", "local", "pushed", "queued"):
            why = f"the CHF did not deliver the {len(_read_hex(test.command))}-octet command: {stage.outcome}"
        return Outcome(test.name, "failed", device_type, f"{len(responses)} responses, expected 1 {why}".strip())
    diff = _compare_response(ref, responses[0], command)
    if diff:
        return Outcome(test.name, "failed", device_type, diff)
    for a in alerts:
        protected = a.verification.signature == VERIFIED if a.frame.ciphering is None else a.verification.mac == VERIFIED
        if not protected:
            return Outcome(test.name, "failed", device_type, "an alert's MAC or signature does not verify")
        if a.frame.signing.originator != cg.recipient:
            return Outcome(test.name, "failed", device_type, "an alert does not come from the device")
        invoke = (a.payload or {}).get("long_invoke_id_and_priority")
        if invoke is not None and invoke != 0x20000000 | (a.frame.signing.originator_counter & 0xFFFFFF):
            return Outcome(test.name, "failed", device_type, "an alert's invoke id does not follow its counter")
    alerts, aside = side_effect_alerts(cg.message_code, ref_alerts, alerts)
    want = sorted(_alert_key(a) for a in ref_alerts)
    got = sorted(_alert_key(a) for a in alerts)
    if want != got:
        return Outcome(test.name, "failed", device_type, f"alerts {got}, expected {want}")
    return Outcome(test.name, "passed", device_type,
                   set_aside=tuple(f"0x{a.frame.signing.message_code:04X} {_use_case_code(a.frame.signing.message_code)} "
                                   f"alert 0x{_alert_code(a) or 0:04X}" for a in aside))


def _use_case_code(message_code: int) -> str | None:
    """The GBCS use case code (C{"CS14"}, C{"ECS101"}) a message code belongs to; None for the
    alerts that are no use case of their own (generic critical / non-critical, future-dated
    execution, firmware receipt...: the catalogue names those by their title alone)."""
    uc = catalogue.use_case(message_code)
    return uc.name if uc is not None and uc.name != uc.title else None


def side_effect_alerts(command_code: int, ref_alerts: list[DecodedMessage], alerts: list[DecodedMessage]
                       ) -> tuple[list[DecodedMessage], list[DecodedMessage]]:
    """Split the alerts a command caused into (compared, set aside).

    RTDS keeps each use case's messages in that use case's own test: an alert of another use
    case that executing the command raised as a side effect (the CS14 device log back-up after
    a CCS01, an ECS101 alert after an ECS47e) is not in the command's reference.  Such an
    alert is set aside when its message code names a use case other than the command's and the
    reference lists no alert of that message code.  Everything else is compared: an alert of
    the command's own use case, a generic alert (0x1000/0x1001), a future-dated execution alert.
    """
    own = _use_case_code(command_code)
    listed = {a.frame.signing.message_code for a in ref_alerts}
    compared: list[DecodedMessage] = []
    aside: list[DecodedMessage] = []
    for a in alerts:
        code = a.frame.signing.message_code
        other = _use_case_code(code)
        if other is not None and other != own and code not in listed:
            aside.append(a)
        else:
            compared.append(a)
    return compared, aside


# --------------------------------------------------------------------------- HAN-only commands, UTRNs

def han_only_unkeyed(command: DecodedMessage) -> bool:
    """A HAN-only reference command (PPMID -> GSME ...) whose MAC the reference key store cannot
    check: the two devices' KA private keys are not shipped (spec/gbcs-wire-format.md 2.2)."""
    cg = command.frame.signing
    return (catalogue.is_han_only(cg.message_code) and command.frame.ciphering is not None
            and command.verification.mac == "no-key" and not cg.signature)


def rekey_han_only(frame, device: GbcsDevice, home_keys: KeyStore) -> bytes:
    """The reference command with its MAC re-applied under the home's keys for the device pair.

    The General-Signing APDU (originator, recipient, counter, payload) is kept byte for byte;
    only the 12-byte MAC changes.  The originator (its KA key provided by L{provide_ka_key})
    is put in the device's log as the device type that sends this message code, as its join
    (CS03A/C) would have.  L{CodecError} if the home still has no key for the pair.
    """
    from dataclasses import replace
    from protocols.gbcs.framing import wrap_general_ciphering
    from emulator.devices.gbcs.han_commands import join_partner
    from emulator.devices.gbcs.security import han_originator_types
    gs = frame.signing
    kind = han_originator_types().get(gs.message_code)
    if kind is not None:
        join_partner(device, gs.originator, kind)
    crypto = GbcsCrypto(home_keys, acb_eui(home_keys))
    lookup = crypto.mac_key(gs, True)
    if lookup.key is None:
        raise CodecError("general_ciphering.mac", 0, f"no home key for the HAN-only pair: {lookup.reason}")
    mac = crypto.compute_mac(lookup.key, gs, frame.apdu, frame.ciphering.invocation_counter)
    return wrap_general_ciphering(frame.apdu, replace(frame.ciphering, mac=mac))


def _utrns(tree: object) -> list[str]:
    """Every UTRN (20 ASCII digits, as text or a hex octet string) in a decoded payload."""
    found: list[str] = []
    if isinstance(tree, dict):
        for v in tree.values():
            found += _utrns(v)
    elif isinstance(tree, list):
        for v in tree:
            found += _utrns(v)
    elif isinstance(tree, str):
        text = tree
        if len(tree) == 40:
            try:
                text = bytes.fromhex(tree).decode("ascii")
            except (ValueError, UnicodeDecodeError):
                text = tree
        if len(text) == 20 and text.isdigit():
            found.append(text)
    return found


def _reports_acceptance(payload: dict) -> bool:
    """The reference response says the command (a top-up) was accepted: every DLMS item
    succeeded, or a ZCL response reports ResultType Accepted."""
    if payload.get("kind") == "dlms":
        items = payload.get("access_response_specification") or []
        return bool(items) and all(i.get("result") == SUCCESS for i in items)
    if payload.get("kind") == "gbz":
        return any(_zcl_body(c).get("ResultType") == 0 for c in payload.get("components") or [])
    return False


def utrn_not_authentic(command: DecodedMessage, ref: DecodedMessage, ref_keys: KeyStore) -> str | None:
    """Why a reference test cannot pass on a faithful device: its command carries a UTRN that
    does not verify under the reference keys (any supplier prepayment key the store holds, the
    device's KA certificate, the command's counter or the counter the UTRN's bits give), yet the
    reference response reports it accepted.  None when every UTRN verifies, when the store has
    no prepayment key to check with, or when the reference rejects it."""
    from protocols.gbcs.utrn import decode_utrn, verify_utrn
    utrns = _utrns(command.payload or {})
    if not utrns or not _reports_acceptance(ref.payload or {}):
        return None
    suppliers = [eui for eui, usage in ref_keys.entries() if usage == "pp-ka" and ref_keys.has_private_key(eui, "pp-ka")]
    if not suppliers:
        return None
    cg = command.frame.signing
    crypto = GbcsCrypto(ref_keys, acb_eui(ref_keys))
    for utrn in utrns:
        try:
            token = decode_utrn(utrn)
        except CodecError as e:
            return f"the reference UTRN {utrn} is no UTRN ({e.reason}), yet the reference response reports it accepted"
        counters = {token.counter_high_bits << 32, cg.originator_counter}
        ok = False
        for supplier in suppliers:
            for counter in counters:
                try:
                    verify_utrn(crypto, utrn, supplier, cg.recipient, counter)
                    ok = True
                except (CodecError, KeyError):
                    continue
        if not ok:
            tag = " (its authentication tag bits are all zero)" if token.tag_low == bytes(4) else ""
            return (f"the reference UTRN {utrn} does not verify under the reference keys{tag} (supplier "
                    f"prepayment keys {', '.join(f'{s:016X}' for s in suppliers)} x {cg.recipient:016X}), yet the "
                    "reference response reports it accepted: a faithful device rejects it")
    return None


def replay(directory: Path, keys: Path, seed: int = 1, han: bool = True) -> list[Outcome]:
    """Replay every reference test under C{directory} (through the home's CHF and HAN unless
    C{han} is false: then straight to each device's GBCS endpoint)."""
    tests, orphans = find_tests(directory)
    inventory = infer_inventory(tests)
    ref_keys = KeyStore(keys)
    ref_crypto = GbcsCrypto(ref_keys, acb_eui(ref_keys))
    # the devices' Root trust anchor: the store's root certificate, else reconstructed (RTDS has none)
    root = replay_root(ref_keys, [t.command for t in tests])
    homes = Homes(inventory, seed, han)
    try:
        outcomes = [replay_test(t, inventory, keys, ref_crypto, homes, seed, root) for t in tests]
        # alerts no command explains are raised by the device on its own (tamper, supply events,
        # device log changes ...): replayed where the replay can cause the event, else not emulated
        for path in orphans:
            outcomes.append(replay_alert(path, inventory, keys, ref_crypto, homes, seed))
    finally:
        homes.close()
    return outcomes


def _unauthorised_command(device: GbcsDevice, ref_crypto: GbcsCrypto) -> bytes | None:
    """A command MACed by the ACB from a party with no certificate on the device (event 8F30)."""
    from protocols.gbcs.framing import CRA_COMMAND, GeneralCiphering, GeneralSigning, OtherInformation
    from protocols.gbcs.message import protect
    from protocols.gbcs.payloads import dlms, encode_payload, gbz
    stranger = next((eui for eui in range(0x90B3D51F3FFF0000, 0x90B3D51F3FFF0100)
                     if eui not in device.security.remote_parties), None)
    if stranger is None:
        return None
    if getattr(device, "model", None) is not None:
        code, payload = 0x002C, dlms.access_request(1, [dlms.access_request_item("get", 8, "0-0:1.0.0.255", 2)],
                                                     [dlms.make_data("null-data")])
    elif getattr(device, "zcl", None) is not None:
        code, payload = 0x0096, {"kind": "gbz", "profile_id": gbz.GBZ_PROFILE_ID, "components": [
            gbz.build_component(0x0000, 0x00, 0, 0x00, {"Attributes": [{"AttributeID": 4}]}, last=True)]}
    else:
        return None
    gs = GeneralSigning(CRA_COMMAND, 1, stranger, device.eui, None, OtherInformation(code),
                        encode_payload(payload), b"")
    return protect(gs, ref_crypto, GeneralCiphering(b""))


#: alert code -> the command that makes the device raise it
_STIMULI = {0x8F30: _unauthorised_command}


def replay_alert(path: Path, inventory: dict[int, str], keys: Path, ref_crypto: GbcsCrypto,
                 homes: Homes, seed: int = 1) -> Outcome:
    """Replay an alert-only reference test: cause the event, compare the alert raised."""
    name = path.name[:-len("_GBCS.HEX")] if path.name.endswith("_GBCS.HEX") else path.name
    try:
        ref = decode_message(_read_hex(path), ref_crypto)
    except (CodecError, ValueError, OSError) as e:
        return Outcome(name, "failed", "?", f"reference alert unreadable: {e}")
    rg = ref.frame.signing
    device_type = inventory.get(rg.originator, "?")
    cls = DEVICE_CLASSES.get(device_type)
    stimulus = _STIMULI.get(_alert_code(ref) or 0) or cause_for(_alert_code(ref))
    if cls is None or stimulus is None:
        why = "no command triggers it and no event of the device causes it"
        return Outcome(name, "not emulated", device_type, f"device-initiated alert: {why}")
    stage = homes.stage(rg.originator)
    try:
        outcome = _replay_alert_staged(name, ref, cls, device_type, keys, ref_crypto, stimulus, stage, seed,
                                       inventory)
    finally:
        stage.close()
    if stage.outcome:
        outcome.route = stage.route
    return outcome


def _replay_alert_staged(name: str, ref: DecodedMessage, cls: type[GbcsDevice], device_type: str, keys: Path,
                         ref_crypto: GbcsCrypto, stimulus, stage: Stage | DirectStage, seed: int,
                         inventory: dict[int, str]) -> Outcome:
    rg = ref.frame.signing
    home_keys = KeyStore(keys)
    device = provision(cls, rg.originator, home_keys, stage.clock, stage.send, rng=random.Random(seed))
    stage.attach(device)
    if rg.recipient not in device.security.remote_parties:
        install_party(device, home_keys, rg.recipient)
    if "_TWIN" in name and getattr(device, "model", None) is not None:
        device.model.twin = True        # the reference device is a twin-element meter
    if stimulus in CAUSES.values():
        def settle() -> None:           # the alerts of the way to the event's state are not compared
            stage.wait_for(len(stage.sent) + 1, 5.0)
            stage.sent.clear()

        if not stimulus(device, ref, AlertContext(home_keys, inventory, random.Random(seed), settle)):
            return Outcome(name, "not emulated", device_type, f"a {device_type} has no such event")
        stage.outcome = "event"
        stage.wait_for(1, 120.0)
    else:
        command = stimulus(device, ref_crypto)
        if command is None:
            return Outcome(name, "not emulated", device_type, "no way to cause the event")
        stage.deliver(command)
    home_crypto = GbcsCrypto(home_keys, acb_eui(home_keys))
    try:
        alerts = [decode_message(m, home_crypto) for m in stage.sent]
    except CodecError as e:
        return Outcome(name, "failed", device_type, f"device sent an undecodable message: {e}")
    if len(alerts) != 1 or alerts[0].frame.signing.cra_flag == CRA_RESPONSE:
        return Outcome(name, "failed", device_type, f"{len(alerts)} messages, expected one alert")
    got = alerts[0]
    gg = got.frame.signing
    if (gg.originator, gg.recipient, gg.message_code) != (rg.originator, rg.recipient, rg.message_code):
        return Outcome(name, "failed", device_type, f"alert 0x{gg.message_code:04X} from {gg.originator:016X} to "
                                                    f"{gg.recipient:016X}, expected 0x{rg.message_code:04X} from "
                                                    f"{rg.originator:016X} to {rg.recipient:016X}")
    if (ref.frame.ciphering is None) != (got.frame.ciphering is None) or bool(rg.signature) != bool(gg.signature):
        return Outcome(name, "failed", device_type, "alert protection differs")
    ok = got.verification.signature == VERIFIED if gg.signature else got.verification.mac == VERIFIED
    if not ok:
        return Outcome(name, "failed", device_type, "the alert's MAC or signature does not verify")
    if _alert_key(got) != _alert_key(ref):
        return Outcome(name, "failed", device_type, f"alert {_alert_key(got)}, expected {_alert_key(ref)}")
    diff = compare_payload(ref.payload or {}, got.payload or {})
    if diff:
        return Outcome(name, "failed", device_type, diff)
    invoke = (got.payload or {}).get("long_invoke_id_and_priority")
    if invoke is not None and invoke != 0x20000000 | (gg.originator_counter & 0xFFFFFF):
        return Outcome(name, "failed", device_type, "the alert's invoke id does not follow its counter")
    return Outcome(name, "passed", device_type)


def summary(outcomes: list[Outcome]) -> str:
    c = Counter(o.status for o in outcomes)
    return f"{c['passed']} passed, {c['failed']} failed, {c['not emulated']} not emulated"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="smets rtds", description="replay DCC reference test data (RTDS)")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("replay", help="deliver RTDS commands to emulated devices and compare the answers")
    r.add_argument("directory", help="RTDS directory (folders of *_GBCS.HEX files)")
    r.add_argument("--keys", required=True, help="key store directory (RTDS layout)")
    r.add_argument("--seed", type=int, default=1, help="seed for generated device keys (default 1)")
    r.add_argument("--by-type", action="store_true", help="print passed/failed/not emulated per device type")
    r.add_argument("--verbose", "-v", action="store_true", help="also list tests not emulated, with why")
    r.add_argument("--direct", action="store_true",
                   help="hand each command straight to the device's GBCS endpoint (no CHF, tunnel or HAN)")
    return p


def main(argv: list[str]) -> int:
    from emulator.cli_errors import run_command
    return run_command("smets rtds replay", _main, argv)


def _main(argv: list[str]) -> int:
    from emulator.cli_errors import UsageError, check_directory
    args = _parser().parse_args(argv)
    directory, keys = check_directory("DIRECTORY", args.directory), check_directory("--keys", args.keys)
    try:
        KeyStore(keys).root_anchor()
    except ValueError as e:             # a root.pem that is not a root CA certificate
        raise UsageError("--keys", str(e)) from None
    outcomes = replay(directory, keys, seed=args.seed, han=not args.direct)
    if not outcomes:
        raise UsageError("DIRECTORY", f"no reference tests under {args.directory} (no *_COMMAND_GBCS.HEX "
                                      "or *_ALERT_GBCS.HEX file)")
    for o in outcomes:
        if o.status == "failed" or (args.verbose and (o.status == "not emulated" or o.reason)):
            print(f"{o.test}: {o.status} ({o.device_type}): {o.reason}")
        if args.verbose and o.set_aside:
            print(f"{o.test}: {o.status} ({o.device_type}): set aside (side effect of another use case): "
                  + ", ".join(o.set_aside))
    aside = sum(len(o.set_aside) for o in outcomes)
    if args.verbose and aside:
        print(f"{aside} side-effect alerts of other use cases set aside")
    if args.by_type:
        types = sorted({o.device_type for o in outcomes})
        for t in types:
            print(f"{t}: " + summary([o for o in outcomes if o.device_type == t]))
    print(summary(outcomes))
    return 1 if any(o.status == "failed" for o in outcomes) else 0
