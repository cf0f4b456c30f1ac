"""DLMS devices (ESME, and the CHF's DLMS use cases): execute xDLMS Access-Requests on a
COSEM object model and answer with Access-Responses.

The device's COSEM objects are the ones GBCS defines for its use cases
(C{payload_catalogue.tsv}, the objects each use case touches); the use cases the device
executes are exactly those whose every attribute and method the model implements
(L{emulator.devices.gbcs.cosem}), so nothing is claimed that is not modelled.
"""

from __future__ import annotations

import copy
import csv
import re
from functools import cache
from pathlib import Path
from typing import Any, Callable

from protocols.errors import CodecError
from protocols.gbcs import catalogue
from protocols.gbcs.framing import Frame
from protocols.gbcs.payloads import dlms
from protocols.gbcs.utrn import verify_utrn
from protocols.zcl.types import ZCL_EPOCH_UNIX

from emulator.devices.gbcs.cosem import (ACTIVATED_OBJECTS, HARDWARE_FAULT, INSTANCE_DEVICE, INSTANCE_TYPES, PROFILE_COLUMNS,
                                         PROFILE_DEVICE, OTHER_REASON, SUCCESS, CosemObject,
                                         ObjectModel)
from emulator.devices.gbcs import apc, auxload, dualband, supply
from emulator.devices.gbcs.asn1_usecases import ASN1_USE_CASES
from emulator.devices.gbcs.chf_device_log import (ALERT_CHF_DEVICE_LOG_CHANGED, CS14_ALERT, ChfDeviceLog,
                                                  backup_data)
from emulator.devices.gbcs.device import UNSUPPORTED_COMMAND_ALERT, GbcsDevice, dlms_date_time
from emulator.devices.gbcs.security import ROLE_SUPPLIER, SecurityState

__all__ = ["DlmsDevice", "Esme", "use_case_items", "ACTIVATION_TIMES", "decode_activation_time",
           "FUTURE_DATED_ALERT", "ALERT_FUTURE_DATED_SUCCESS"]

_ITEM = re.compile(r"DLMS (get|set|action|get-sel\(sel\d+\)) IC(\d+) ([0-9.]+) ([am])(\d+)")


def _obis(dotted: str) -> str:
    a, b, c, d, e, f = dotted.split(".")
    return f"{a}-{b}:{c}.{d}.{e}.{f}"


@cache
def use_case_items() -> dict[int, tuple[tuple[str, int, str, int], ...]]:
    """Message code -> the DLMS items (kind, class, OBIS, attribute/method) GBCS names for it."""
    path = Path(catalogue.__file__).resolve().parent / "data" / "payload_catalogue.tsv"
    table: dict[int, tuple] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t"):
            if len(row) < 3 or not re.fullmatch(r"[0-9A-Fa-f]{4}", row[0]):
                continue
            items = []
            for kind, cls, obis, _am, num in _ITEM.findall(row[2]):
                kind = "get-with-selection" if kind.startswith("get-sel") else kind
                items.append((kind, int(cls), _obis(obis), int(num)))
            if items:
                table[int(row[0], 16)] = tuple(items)
    return table


@cache
def _catalogue_codes(device_type: str) -> tuple[int, ...]:
    """Message codes of the DLMS use cases of C{device_type} (the catalogue is fixed: computed once)."""
    out = []
    for code in use_case_items():
        uc = catalogue.use_case(code)
        if uc is None or uc.is_alert:
            continue
        # ECS use cases are the ESME's, whatever device their title names (HCALCS, CH ...)
        if device_type in uc.target_device_types or (device_type == "ESME" and uc.name.startswith("ECS")):
            out.append(code)
    return tuple(out)


#: activation-time attributes (class, attribute) -> (passive attribute, active attribute) pairs
#: to copy when the time comes (DLMS Blue Book; GBCS future-dated commands, section 4.4).
#: Account (IC111) is activated instance to instance: passive 0-1:... into active 0-0:...
ACTIVATION_TIMES: dict[tuple[int, int], tuple[tuple[int, int], ...]] = {
    (20, 10): ((6, 2), (7, 3), (8, 4), (9, 5)),      # activity calendar: passive -> active
    (113, 7): ((6, 5),),                              # charge: unit charge passive -> active
    (9000, 6): ((4, 2), (5, 3)),                      # GBCS extended data: value/scaler passive -> active
    (111, 13): (),                                    # account: passive instance -> active instance
}

FUTURE_DATED_ALERT = 0x00CC
ALERT_FUTURE_DATED_SUCCESS = 0x8F66


def decode_activation_time(raw: bytes) -> float | str:
    """A DLMS date-time as Unix seconds, or C{"now"} (all zero) / C{"never"} (wildcard year)."""
    import calendar
    if len(raw) != 12:
        return "never"
    year = int.from_bytes(raw[0:2], "big")
    if year == 0xFFFF:
        return "never"
    if year == 0 and raw[2] == 0 and raw[3] == 0:
        return "now"
    month, day = raw[2], raw[3]
    hour, minute, second = (0 if v == 0xFF else v for v in raw[5:8])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return "never"
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


class DlmsDevice(GbcsDevice):
    """A device that speaks DLMS/COSEM: its state is an L{ObjectModel}."""

    alert_codes = GbcsDevice.alert_codes | {FUTURE_DATED_ALERT, 0x00CE}   # 0x00CE firmware receipt

    def __init__(self, eui: int, crypto: Any, clock: Any, send: Callable[[bytes], None], *,
                 security: SecurityState | None = None, alert_counter: int = 1) -> None:
        super().__init__(eui, crypto, clock, send, security=security, alert_counter=alert_counter)
        self.model = ObjectModel()
        for code in self.catalogue_codes():
            for _kind, class_id, obis, _item in use_case_items()[code]:
                self.model.add(class_id, obis)
        for class_id, obis, _attr in self.instance_objects():
            self.model.add(class_id, obis)
        self._install_behaviours()
        self._command: Frame | None = None
        #: (class, OBIS, activation attribute) -> the pending delayed call
        self.pending_activations: dict[tuple[int, str, int], Any] = {}

    @classmethod
    def catalogue_codes(cls) -> list[int]:
        """Message codes of this device type's DLMS use cases."""
        return list(_catalogue_codes(cls.device_type))

    @classmethod
    def instance_objects(cls) -> list[tuple[int, str, int]]:
        """Objects the device defines beyond the catalogue's examples (GBCS object definitions)."""
        out = [k for k in INSTANCE_TYPES if INSTANCE_DEVICE.get(k[:2], "ESME") == cls.device_type]
        out += [(7, o, 2) for o in PROFILE_COLUMNS if PROFILE_DEVICE.get(o, "ESME") == cls.device_type]
        return out

    def supports(self, message_code: int) -> bool:
        if message_code in ASN1_USE_CASES:
            return self.supports_asn1(message_code)
        items = use_case_items().get(message_code)
        if not items or message_code not in _catalogue_codes(self.device_type):
            return False
        return all(self.model.has_item(k, c, o, i) for k, c, o, i in items)

    def _install_behaviours(self) -> None:
        """Method behaviours with state effects (subclasses add theirs)."""

    def _get_protected(self, model: ObjectModel, obj: CosemObject, method: int, param: dict
                       ) -> int | tuple[int, dict]:
        """IC30 m1, get protected attributes (spec 4.1.6): read the listed attributes and return
        them encrypted for the party named in the protection parameters (section 2.3)."""
        cmd = self._command
        v = param.get("value") or []
        if cmd is None or len(v) != 2 or v[0].get("type") != "array" or v[1].get("type") != "array":
            return 12
        values = []
        for d in v[0].get("value") or []:
            m = d.get("value") or []
            if len(m) < 5:
                return 12
            class_id, obis, attr = m[0].get("value"), dlms.obis_to_str(bytes.fromhex(m[1].get("value", ""))), \
                m[2].get("value")
            sel = m[4].get("value") or []
            selector = sel[0].get("value") if sel else 0
            if selector and len(sel) > 1 and sel[1].get("type") == "structure":
                times = [decode_activation_time(bytes.fromhex(x.get("value", ""))) for x in sel[1]["value"]]
                if len(times) != 2 or not all(isinstance(t, float) for t in times):
                    return 12
                result, value = self.model.profile(obis, int(times[0]) - ZCL_EPOCH_UNIX, int(times[1]) - ZCL_EPOCH_UNIX)
            else:
                result, value = self.model.get(class_id, obis, attr)
            if result != SUCCESS:
                return result
            values.append(value)
        params = []
        for p in v[1].get("value") or []:
            pm = p.get("value") or []
            if len(pm) != 2 or pm[1].get("type") != "structure" or len(pm[1]["value"]) != 5:
                return 12
            party = pm[1]["value"][1]
            params.append(dlms.structure(
                dlms.make_data("enum", 2), dlms.structure(
                    dlms.octet_string(b"\x04" + cmd.signing.originator_counter.to_bytes(8, "big")),
                    dlms.octet_string(self.eui.to_bytes(8, "big")), copy.deepcopy(party), dlms.octet_string(b""),
                    dlms.structure(dlms.make_data("enum", 2), dlms.structure(
                        dlms.octet_string(b"\x02"), dlms.octet_string(b""))))))
        protected = {"type": "octet-string", "protected": {
            "security_control": 0x31, "invocation_counter": 0, "plaintext": dlms.structure(*values)}}
        return SUCCESS, dlms.structure(dlms.array(*params), protected)

    SECURITY_LOG = "0-0:99.98.1.255"

    def log_security_event(self, event_code: int) -> None:
        self.model.capture(self.SECURITY_LOG, int(self.now()) - ZCL_EPOCH_UNIX, event_code)


    # ------------------------------------------------------------------ execution

    def execute(self, frame: Frame, payload: dict) -> dict | None:
        if payload.get("kind") == "asn1":
            return super().execute(frame, payload)
        if payload.get("kind") != "dlms" or payload.get("apdu") != "Access-Request":
            return None
        self._command = frame
        specs = payload.get("access_request_specification") or []
        data = payload.get("access_request_list_of_data") or []
        results: list[tuple[str, int]] = []
        out: list[dict] = []
        failed = False
        for i, spec in enumerate(specs):
            choice = spec["choice"]
            kind = {"access-request-get": "get", "access-request-set": "set", "access-request-action": "action",
                    "access-request-get-with-selection": "get",
                    "access-request-set-with-selection": "set"}[choice]
            param = data[i] if i < len(data) else {"type": "null-data"}
            value: dict = {"type": "null-data"}
            if failed:
                result = OTHER_REASON
            elif choice == "access-request-get-with-selection":
                result, value = self.model.get_selective(spec["class_id"], spec["obis"], spec["attribute_id"],
                                                         spec.get("access_selector"), spec.get("access_parameters"))
            elif choice.endswith("with-selection"):
                result = 4   # selective set: no GBCS use case; object undefined
            elif kind == "get":
                result, value = self.model.get(spec["class_id"], spec["obis"], spec["attribute_id"])
            elif kind == "set":
                result = self.model.set(spec["class_id"], spec["obis"], spec["attribute_id"], param)
                if result == SUCCESS and (spec["class_id"], spec["attribute_id"]) in ACTIVATION_TIMES:
                    self._activation_time_set(frame, spec["class_id"], spec["obis"], spec["attribute_id"], param)
            else:
                result, value = self.model.action(spec["class_id"], spec["obis"], spec["method_id"], param)
            if result != SUCCESS:
                failed = True
            results.append((kind, result))
            out.append(value)
        self._command = None
        return dlms.access_response(frame.signing.originator_counter, out, results)


    # ------------------------------------------------------------------ future-dated activation

    def _activation_time_set(self, frame: Frame, class_id: int, obis: str, attr: int, value: dict) -> None:
        """An activation time was written: activate now, cancel, or schedule the activation."""
        key = (class_id, obis, attr)
        pending = self.pending_activations.pop(key, None)
        if pending is not None and pending.active():
            pending.cancel()
        try:
            when = decode_activation_time(bytes.fromhex(value.get("value", "")))
        except ValueError:
            return
        if when == "never":
            return
        if when == "now" or when <= self.now():
            self._activate(class_id, obis, attr)
            return
        gs = frame.signing
        self.pending_activations[key] = self.clock.callLater(
            when - self.now(), self._activate_future, class_id, obis, attr, gs.message_code,
            gs.originator_counter, gs.originator)

    def _activate(self, class_id: int, obis: str, attr: int) -> None:
        self.model.touch()   # registers driven by the load model reach the activation time first
        obj = self.model.objects.get((class_id, obis))
        if obj is None:
            return
        if class_id == 111:
            a, b_rest = obis.split("-", 1)
            active = self.model.objects.get((111, f"{a}-0:{b_rest.split(':', 1)[1]}"))
            if active is not None and active is not obj:
                for k, v in obj.attributes.items():
                    if k != attr:
                        active.attributes[k] = copy.deepcopy(v)
            return
        for passive, active in ACTIVATION_TIMES[(class_id, attr)]:
            if passive in obj.attributes:
                obj.attributes[active] = copy.deepcopy(obj.attributes[passive])
        for other, passive_obis, active_obis, other_attr in ACTIVATED_OBJECTS.get(obis, ()) if class_id == 9000 else ():
            source, target = self.model.objects.get((other, passive_obis)), self.model.objects.get((other, active_obis))
            if source is not None and target is not None and other_attr in source.attributes:
                target.attributes[other_attr] = copy.deepcopy(source.attributes[other_attr])

    def _activate_future(self, class_id: int, obis: str, attr: int, message_code: int, counter: int,
                         originator: int) -> None:
        """The time came: activate and tell the originator (alert 8F66, message code 0x00CC)."""
        self.pending_activations.pop((class_id, obis, attr), None)
        self._activate(class_id, obis, attr)
        descriptor = (message_code.to_bytes(2, "big") + counter.to_bytes(8, "big") + class_id.to_bytes(2, "big")
                      + dlms.obis_from_str(obis) + bytes((attr,)))
        alert_counter = self.alert_counter
        body = dlms.structure(dlms.make_data("long-unsigned", ALERT_FUTURE_DATED_SUCCESS),
                              dlms.octet_string(dlms_date_time(self.now())), dlms.octet_string(descriptor))
        self.raise_alert(ALERT_FUTURE_DATED_SUCCESS, critical=True,
                         payload=dlms.data_notification(alert_counter, body),
                         message_code=FUTURE_DATED_ALERT, recipient=originator)


class Esme(DlmsDevice):
    """The electricity smart meter's GBCS logic (DLMS/COSEM)."""

    device_type = "ESME"
    #: ECS100 (unsupported command, GbcsDevice.receive), ECS101 / ECS102 (APC limits, apc)
    alert_codes = DlmsDevice.alert_codes | {UNSUPPORTED_COMMAND_ALERT} | apc.APC_ALERT_CODES

    def _install_behaviours(self) -> None:
        m = self.model
        m.actions[(30, 1)] = self._get_protected
        m.actions[(112, 1)] = self._credit_update_amount
        m.actions[(112, 2)] = self._credit_set_amount
        m.actions[(115, 1)] = self._token_enter
        m.actions[(70, 1)] = self._disconnect
        m.actions[(70, 2)] = self._reconnect
        # supply state (load switch scripts) and load limiting: emulator.devices.gbcs.supply
        m.actions[(9, 1)] = self._execute_script
        m.actions[(3, 1)] = supply.reset_counter
        self.load_limiter = supply.LoadLimiter(m, lambda code: self.raise_alert(code, critical=True))
        # auxiliary controllers (ALCS / HC ALCS) switched by ECS47 / ECS47a: emulator.devices.gbcs.auxload
        self.aux = auxload.AuxiliaryControllers(m, self.clock)
        # APC level limits (ECS47e, script table 0-0:10.0.107.255): emulator.devices.gbcs.apc
        self.apc = apc.ApcLimits(self)

    def _execute_script(self, model: ObjectModel, obj: CosemObject, method: int, param: dict) -> int:
        """IC9 execute: the load switch scripts change the supply state; other tables' scripts
        (tariff) have no modelled effect; the auxiliary control scripts switch the auxiliary
        controllers (L{auxload})."""
        if obj.obis == supply.LOAD_SWITCH_SCRIPTS:
            return supply.load_switch_script(model, int(param.get("value", 0)))
        if obj.obis == auxload.AUX_SCRIPT_TABLE:
            return self.aux.execute(int(param.get("value", 0)))
        if obj.obis == apc.APC_LIMIT_SCRIPT_TABLE:
            return self.apc.execute(int(param.get("value", 0)))
        return SUCCESS

    def observe_power(self, power_w: float) -> None:
        """The active power import now (from the load model): load limiting acts on it."""
        self.load_limiter.observe(power_w, self.now())

    # IC112 Credit: m1 update_amount (add), m2 set_amount_to_value
    @staticmethod
    def _credit_update_amount(model: ObjectModel, obj: CosemObject, method: int, param: dict) -> int:
        cur = obj.writable(2)
        cur["value"] = int(cur["value"]) + int(param["value"])
        return SUCCESS

    @staticmethod
    def _credit_set_amount(model: ObjectModel, obj: CosemObject, method: int, param: dict) -> int:
        obj.writable(2)["value"] = int(param["value"])
        return SUCCESS

    @staticmethod
    def _disconnect(model: ObjectModel, obj: CosemObject, method: int, param: dict) -> int:
        obj.attributes[2] = {"type": "boolean", "value": False}
        obj.attributes[3] = {"type": "enum", "value": 0}
        return SUCCESS

    @staticmethod
    def _reconnect(model: ObjectModel, obj: CosemObject, method: int, param: dict) -> int:
        obj.attributes[3] = {"type": "enum", "value": 2}   # ready for reconnection (armed)
        return SUCCESS

    def _token_enter(self, model: ObjectModel, obj: CosemObject, method: int, param: dict) -> int:
        """IC115 enter: a UTRN, authenticated with the supplier's prepayment key (section 4.5).

        The full counter is the command's originator counter; the value is credited to the
        meter balance (0-0:19.10.0.255) on success.
        """
        cmd = self._command
        if cmd is None:
            return OTHER_REASON
        try:
            token = bytes.fromhex(param["value"]).decode("ascii")
        except (KeyError, ValueError, UnicodeDecodeError):
            return 12
        supplier = cmd.signing.originator
        party = self.security.remote_parties.get(supplier)
        if party is None or party.role != ROLE_SUPPLIER:
            return 3
        try:
            u = verify_utrn(self.crypto, token, supplier, self.eui, cmd.signing.originator_counter)
        except (CodecError, KeyError):
            self.raise_alert(0x8F63, critical=False)   # UTRN not authentic
            return HARDWARE_FAULT
        balance = model.objects.get((112, "0-0:19.10.0.255"))
        if balance is not None:
            amount = u.value * (100 if u.value_class == 1 else 1)
            cur = balance.writable(2)
            cur["value"] = int(cur["value"]) + amount
        return SUCCESS


class Chf(DlmsDevice):
    """The communications hub function's GBCS logic (DLMS): its device log (COSEM class 104,
    ZigBee network control, 0-0:30.3.0.255; the GPF's log is 0-0:30.3.1.255) and identity.

    The CHF Device Log is a L{ChfDeviceLog}; each change of it (CCS01, CCS02, CCS03, a TC link
    key established) sends the CS14 back-up alert (L{report_device_log})."""

    device_type = "CHF"
    CHF_DEVICE_LOG = "0-0:30.3.0.255"
    DEVICE_LOGS = (CHF_DEVICE_LOG, "0-0:30.3.1.255")
    alert_codes = DlmsDevice.alert_codes | {dualband.CONFIGURATION_CHANGED_ALERT, dualband.LIMITED_ACTION_ALERT,
                                            dualband.CHANNEL_CHANGED_ALERT, dualband.SCAN_OUTCOME_ALERT,
                                            dualband.MESSAGE_DISCARDED_ALERT, dualband.NO_CAPACITY_ALERT,
                                            CS14_ALERT,
                                            0x0128}      # CCS08 firmware transfer (firmware.transfer)

    def execute(self, frame: Frame, payload: dict) -> dict | None:
        response = super().execute(frame, payload)
        dualband.report_configuration_change(self, payload, response)    # DBCH04 alert, DBCH05 scan
        return response

    def _install_behaviours(self) -> None:
        m = self.model
        m.actions[(30, 1)] = self._get_protected
        m.actions[(104, 1)] = self._register_device
        m.actions[(104, 2)] = self._unregister_device
        m.actions[(104, 4)] = self._backup
        m.actions[(104, 5)] = self._restore
        self.sub_ghz = dualband.SubGhzRadio(self)       # the dual-band CH's 868 MHz radio management
        #: device log (OBIS) -> the log
        self.device_logs: dict[str, ChfDeviceLog] = {o: ChfDeviceLog() for o in self.DEVICE_LOGS}
        #: the extended PAN ID of the CH's HAN (the CH forms it with its own EUI-64; CCS03 sets it)
        self.extended_pan_id = self.eui

    @property
    def device_log(self) -> ChfDeviceLog:
        """The CHF Device Log (the HAN whitelist)."""
        return self.device_logs[self.CHF_DEVICE_LOG]

    def adopt_device_log(self, log: ChfDeviceLog, extended_pan_id: int | None = None) -> None:
        """Work on C{log}, the one the CH's trust centre admits joiners by (the running hub's),
        on the HAN with C{extended_pan_id}."""
        self.device_logs[self.CHF_DEVICE_LOG] = log
        if extended_pan_id is not None:
            self.extended_pan_id = extended_pan_id
        obj = self.model.objects.get((104, self.CHF_DEVICE_LOG))
        if obj is not None:
            self._sync(obj)

    def _log(self, obj: CosemObject) -> ChfDeviceLog:
        return self.device_logs.setdefault(obj.obis, ChfDeviceLog())

    def _changed(self, obj: CosemObject, changed: bool) -> None:
        self._sync(obj)
        if changed and obj.obis == self.CHF_DEVICE_LOG:
            self.report_device_log()

    def report_device_log(self) -> None:
        """CS14: send the back-up of the CHF Device Log to the ACB (alert 0x8F12, MACed)."""
        now = dlms_date_time(self.now())
        body = dlms.structure(dlms.make_data("long-unsigned", ALERT_CHF_DEVICE_LOG_CHANGED), dlms.octet_string(now),
                              backup_data(self.device_log, now, self.extended_pan_id))
        self.raise_alert(ALERT_CHF_DEVICE_LOG_CHANGED, critical=False,
                         payload=dlms.data_notification(self.alert_counter, body), message_code=CS14_ALERT,
                         recipient=self.crypto.acb_eui)

    def tc_link_key_established(self, eui: bytes, link_key: bytes) -> bool:
        """The device C{eui} established C{link_key} as its TC link key with the CH's trust
        centre: its hash goes into the log, and a changed hash is reported (CS14)."""
        obj = self.model.objects.get((104, self.CHF_DEVICE_LOG))
        changed = self.device_log.tc_link_key_established(eui, link_key)
        if obj is not None:
            self._changed(obj, changed)
        elif changed:
            self.report_device_log()
        return changed

    def _sync(self, obj: CosemObject) -> None:
        """Attribute 4 (active devices) follows the log: {EUI, status bits, type, 0} per entry."""
        entries = [dlms.structure(dlms.octet_string(eui), {"type": "bit-string", "bits": 8, "value": "00"},
                                  dlms.make_data("integer", dtype), dlms.make_data("integer", 0))
                   for eui, (dtype, _key) in sorted(self._log(obj).items())]
        obj.attributes[4] = dlms.array(*entries)

    def _register_device(self, model: ObjectModel, obj: CosemObject, method: int, param: dict) -> int:
        v = param.get("value") or []
        if len(v) < 3 or v[0].get("type") != "octet-string" or v[2].get("type") != "octet-string":
            return 12
        eui = bytes.fromhex(v[0]["value"])
        if len(eui) != 8:
            return 12
        # an existing entry keeps its key (GBCS CCS01)
        dtype = int(v[1].get("value", 0)) if v[1].get("type") == "enum" else 0
        self._changed(obj, self._log(obj).register(eui, dtype, bytes.fromhex(v[2]["value"])))
        return SUCCESS

    def _unregister_device(self, model: ObjectModel, obj: CosemObject, method: int, param: dict) -> int:
        eui = bytes.fromhex(param.get("value", ""))
        if not self._log(obj).unregister(eui):
            return OTHER_REASON
        self._changed(obj, True)
        return SUCCESS

    def _backup(self, model: ObjectModel, obj: CosemObject, method: int, param: dict) -> tuple[int, dict]:
        return SUCCESS, backup_data(self._log(obj), dlms_date_time(self.now()), self.extended_pan_id)

    def _restore(self, model: ObjectModel, obj: CosemObject, method: int, param: dict) -> int:
        v = param.get("value") or []
        if len(v) != 2 or v[0].get("type") != "octet-string" or v[1].get("type") != "array":
            return 12
        pan = bytes.fromhex(v[0].get("value", ""))
        entries = []
        for e in v[1].get("value") or []:
            m = e.get("value") or []
            if len(m) == 2 and all(x.get("type") == "octet-string" for x in m):
                eui, hashed = bytes.fromhex(m[0].get("value", "")), bytes.fromhex(m[1].get("value", ""))
                if len(eui) == 8 and len(hashed) in (0, 16):
                    entries.append((eui, hashed))
                    continue
            return 12
        if len(pan) != 8:
            return 12
        if obj.obis == self.CHF_DEVICE_LOG:     # the CH forms its network with the restored PAN
            self.extended_pan_id = int.from_bytes(pan, "big")
        self._changed(obj, self._log(obj).restore(entries))
        return SUCCESS

    def prepare(self, frame: Frame, payload: dict) -> None:
        """Preconditions a command states about the device log: a device it removes is in it."""
        super().prepare(frame, payload)
        for spec, data in zip(payload.get("access_request_specification") or [],
                              payload.get("access_request_list_of_data") or []):
            if spec.get("class_id") == 104 and spec.get("method_id") == 2 and data.get("type") == "octet-string":
                obj = self.model.objects.get((104, spec["obis"]))
                if obj is not None:
                    self._log(obj).register(bytes.fromhex(data["value"]), 0, bytes(16))   # staged: no alert
                    self._sync(obj)
