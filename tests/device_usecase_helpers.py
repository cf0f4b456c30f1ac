"""Commands for any GBCS use case, built from the catalogue the way the DCC builds them.

The DCC reference data holds commands for the use cases it tests; the others (and the ones in
reference folders that are not shipped) are built here from the use-case catalogue
(C{payload_catalogue.tsv}: the DLMS items, GBZ components and ASN.1 forms of each message
code) with values of the types the items carry, and protected as the DCC would: MACed with
the ACB's key agreement key, signed by the originator for critical use cases.
"""

from __future__ import annotations

import copy
import datetime
import random
from dataclasses import dataclass
from typing import Any

from protocols.acb.dlms_items import catalogue_items, range_selector
from protocols.gbcs import GbcsCrypto, KeyStore, catalogue
from protocols.gbcs.framing import CRA_COMMAND, GeneralCiphering, GeneralSigning, OtherInformation
from protocols.gbcs.message import protect
from protocols.gbcs.payloads import dlms, encode_payload, gbz
from protocols.gbcs.payloads.zcl_commands import decode_zcl_payload, encode_zcl_payload

from emulator.clock import VirtualClock
from emulator.devices.gbcs import DEVICE_CLASSES, provision
from emulator.devices.gbcs.apc import APC_LIMIT_SCRIPT_TABLE
from emulator.devices.gbcs.auxload import KIND_OUTPUT
from emulator.devices.gbcs.cosem import CLASS_METHODS, PROFILE_COLUMNS, default_for
from emulator.devices.gbcs.gbz_device import ATTRIBUTE_TYPES, _gbz_items
from emulator.devices.gbcs.han_commands import join_partner
from emulator.devices.gbcs.provisioning import acb_eui, install_party, provide_ka_key
from emulator.devices.gbcs.security import (ROLE_ACB, ROLE_NETWORK_OPERATOR, ROLE_SUPPLIER, han_originator_types,
                                            permitted_roles)
from emulator.devices.gbcs.supply import LOAD_SWITCH_SCRIPTS, SCRIPT_ENABLE

from tests.gbcs_helpers import KEYSTORE

#: the RTDS devices (spec/gbcs-wire-format.md 1.3)
DEVICE_EUIS = {"ESME": 0x00DB1234567890A0, "GSME": 0x00DB1234567890A1, "CHF": 0x00DB1234567890A2,
               "GPF": 0x00DB1234567890A3, "PPMID": 0x00DB1234567890A4, "HCALCS": 0x00DB1234567890A5}
START = 1420070400.0          # 2015-01-01T00:00:00Z, the RTDS test date
_EPOCH_2000 = 946684800


@dataclass
class Home:
    """One provisioned device, what it sent, and the DCC's side of the keys."""

    device: Any
    sent: list[bytes]
    keys: KeyStore
    dcc: GbcsCrypto
    clock: VirtualClock
    counter: int = 1000

    def next_counter(self) -> int:
        self.counter += 1
        return self.counter


def home(device_type: str, seed: int = 7) -> Home:
    keys = KeyStore(KEYSTORE)
    clock = VirtualClock(START)
    sent: list[bytes] = []
    device = provision(DEVICE_CLASSES[device_type], DEVICE_EUIS[device_type], keys, clock, sent.append,
                       rng=random.Random(seed))
    return Home(device, sent, keys, GbcsCrypto(keys, acb_eui(keys)), clock)


def originator_for(h: Home, message_code: int) -> int:
    """A remote party allowed to send the use case (supplier, else network operator, else ACB),
    installed on the device; for a HAN-only use case the device that sends it (the PPMID), in
    the device's log and with a KA key to MAC with."""
    kind = han_originator_types().get(message_code)
    if kind is not None:
        eui = DEVICE_EUIS[kind]
        provide_ka_key(h.keys, eui, h.device.eui, seed=7)
        join_partner(h.device, eui, kind)
        return eui
    roles = permitted_roles(message_code)
    for role in (ROLE_SUPPLIER, ROLE_NETWORK_OPERATOR, ROLE_ACB):
        if roles is None or role in roles:
            euis = h.keys.euis_with_role(role, "ds") or h.keys.euis_with_role(role, "ka")
            if euis:
                install_party(h.device, h.keys, euis[0])
                return euis[0]
    raise AssertionError(f"no remote party may send 0x{message_code:04X}")


def command(h: Home, message_code: int, payload: dict, *, originator: int | None = None,
            counter: int | None = None) -> bytes:
    """The command as the DCC sends it: MACed, and signed by the originator if critical."""
    uc = catalogue.use_case(message_code)
    originator = originator if originator is not None else originator_for(h, message_code)
    counter = counter if counter is not None else h.next_counter()
    if payload.get("kind") == "dlms":
        payload = dict(payload, long_invoke_id_and_priority=0x20000000 | (counter & 0xFFFFFF))
    gs = GeneralSigning(CRA_COMMAND, counter, originator, h.device.eui, None, OtherInformation(message_code),
                        b"", b"")
    content = encode_payload(payload, h.dcc.payload_crypto(gs))
    gs = GeneralSigning(CRA_COMMAND, counter, originator, h.device.eui, None, OtherInformation(message_code),
                        content, b"")
    return protect(gs, h.dcc, GeneralCiphering(b""), sign=uc is not None and uc.criticality == "critical")


# --------------------------------------------------------------------------- DLMS

def _action_parameter(h: Home, class_id: int, obis: str, method: int, variant: tuple = ()) -> dict:
    want = CLASS_METHODS.get(class_id, {}).get(method)
    if class_id == 30:            # get protected attributes: the import energy register, for the originator
        supplier = h.keys.euis_with_role(ROLE_SUPPLIER, "ka")[0]
        descriptor = dlms.structure(dlms.make_data("long-unsigned", 3), dlms.octet_string(dlms.obis_from_str(
            "1-0:1.8.0.255")), dlms.make_data("integer", 2), dlms.make_data("long-unsigned", 0),
            dlms.structure(dlms.make_data("enum", 0), dlms.make_data("null-data")))
        from protocols.acb.dlms_items import protection_parameters
        return dlms.structure(dlms.array(descriptor), protection_parameters(h.counter + 1, supplier, h.device.eui))
    if class_id == 9 and obis == APC_LIMIT_SCRIPT_TABLE:
        # ECS47e: limit the output of the APC whose period the command sets, to 50 %
        groups = [int(it.obis.split(".")[2]) for it in variant if it.obis.startswith("0-0:94.44.")]
        n = groups[0] - 116 if groups else 1
        return dlms.make_data("long-unsigned", KIND_OUTPUT << 12 | n << 8 | 50)
    if class_id == 9:
        return dlms.make_data("long-unsigned", SCRIPT_ENABLE if obis == LOAD_SWITCH_SCRIPTS else 1)
    if want is None:
        return dlms.make_data("null-data")
    if want == "structure":
        raise NotImplementedError(f"no generic parameter for IC{class_id} m{method}")
    return dlms.make_data(want, 0)


def dlms_payloads(h: Home, message_code: int) -> list[tuple[list, dict]]:
    """One Access-Request per catalogue variant: (the catalogue items, the payload)."""
    out = []
    start = datetime.datetime.fromtimestamp(START - 86400, datetime.timezone.utc)
    end = datetime.datetime.fromtimestamp(START, datetime.timezone.utc)
    for variant in catalogue_items(message_code):
        specs, data = [], []
        for it in variant:
            if it.kind == "get-with-selection":
                specs.append(dlms.access_request_item("get-with-selection", it.class_id, it.obis, it.item_id,
                                                      1, range_selector(start, end)))
                data.append(dlms.make_data("null-data"))
            elif it.kind == "get":
                specs.append(dlms.access_request_item("get", it.class_id, it.obis, it.item_id))
                data.append(dlms.make_data("null-data"))
            elif it.kind == "set":
                value = default_for(it.class_id, it.obis, it.item_id)
                specs.append(dlms.access_request_item("set", it.class_id, it.obis, it.item_id))
                data.append(copy.deepcopy(value) if value is not None else dlms.make_data("null-data"))
            else:
                specs.append(dlms.access_request_item("action", it.class_id, it.obis, it.item_id))
                data.append(_action_parameter(h, it.class_id, it.obis, it.item_id, variant))
        out.append((list(variant), dlms.access_request(0, specs, data)))
    return out


def expected_dlms_type(class_id: int, obis: str, attr: int) -> str | None:
    """The DLMS type a get of this attribute answers with (profiles: a compact array)."""
    if class_id == 7 and attr == 2 and obis in PROFILE_COLUMNS:
        return "compact-array"
    value = default_for(class_id, obis, attr)
    return None if value is None else value["type"]


# --------------------------------------------------------------------------- GBZ

def zero_payload(cluster: int, frame_control: int, command_id: int) -> dict:
    """The shortest all-zero payload the command's ZSE layout decodes exactly (counts and
    lengths zero, values zero)."""
    for n in range(0, 96):
        raw = bytes(n)
        try:
            fields = decode_zcl_payload(cluster, frame_control, command_id, raw)
            if "raw_payload" not in fields and encode_zcl_payload(cluster, frame_control, command_id, fields) == raw:
                return fields
        except Exception:      # the codec refuses this length: try a longer one
            continue
    raise AssertionError(f"no zero payload for cluster 0x{cluster:04X} command {command_id}")


def gbz_payloads(h: Home, message_code: int) -> list[tuple[list, dict]]:
    """The GBZ command of the catalogue's components, with zero-valued ZCL payloads; reads name
    the attributes of that cluster the meter defines."""
    items = _gbz_items().get(message_code) or ()
    comps = []
    for i, (cluster, fc, cmd) in enumerate(items):
        if fc & 0x03 == 0 and cmd == 0:
            attrs = sorted(a for c, a in ATTRIBUTE_TYPES if c == cluster)[:4] or [0]
            payload = {"Attributes": [{"AttributeID": a} for a in attrs]}
        else:
            payload = zero_payload(cluster, fc, cmd)
            # a read asks for everything: any time up to the end of time, the general cause
            for name, value in (("LatestEndTime", 0xFFFFFFFF), ("EndTime", 0xFFFFFFFF), ("SnapshotCause", 1)):
                if name in payload:
                    payload[name] = value
        comps.append(gbz.build_component(cluster, fc, i, cmd, payload, last=i == len(items) - 1,
                                         from_date_time=None))
    tree = {"kind": "gbz", "profile_id": gbz.GBZ_PROFILE_ID, "components": comps}
    return [(list(items), tree)] if items else []
