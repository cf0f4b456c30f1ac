"""The dual-band CH's sub-GHz (868 MHz) state as the CHF's DBCH use cases see it.

COSEM objects of the CHF (spec/gbcs-wire-format.md 4.1.5, "0-0:94.44.10.0/.1/.2 Sub-GHz
config / channel scan / operating channel"; the base model holds .0, .1 and the channel log
0-0:94.44.10.3):

  - 0-0:94.44.10.2, the operating sub-GHz channel (DBCH01): a structure of the channel as a
    32-bit channel mask (the page in the top bits and one channel bit, the form the channel
    log and the Sub GHz Channel Changed alert carry, e.g. E0000001 = page 28 channel 0) and
    one octet of channel status;
  - DBCH04 set sub-GHz configuration: a successful write of 0-0:94.44.10.0 is reported with
    the Sub GHz Configuration Changed alert (message code 0x0113, DBCH09, alert 0x8F2A).
"""

from __future__ import annotations

from typing import Any

from protocols.gbcs.payloads import dlms

from emulator.devices.gbcs.cosem import INSTANCE_DEVICE, INSTANCE_TYPES, SUCCESS

__all__ = ["SUB_GHZ_CONFIGURATION", "SUB_GHZ_CHANNEL", "CONFIGURATION_CHANGED_ALERT", "ALERT_CONFIGURATION_CHANGED",
           "channel_value", "report_configuration_change"]

SUB_GHZ_CONFIGURATION = "0-0:94.44.10.0"
SUB_GHZ_CHANNEL = "0-0:94.44.10.2"
CONFIGURATION_CHANGED_ALERT = 0x0113
ALERT_CONFIGURATION_CHANGED = 0x8F2A

#: the channel a dual-band CH starts on: page 28, channel 0
DEFAULT_CHANNEL_MASK = 0xE0000001


def channel_value(mask: int, status: int = 0) -> dict:
    """The operating channel object's value."""
    return dlms.structure({"type": "bit-string", "bits": 32, "value": f"{mask:08X}"},
                          dlms.octet_string(bytes((status,))))


def report_configuration_change(device: Any, payload: dict, response: dict | None) -> None:
    """After a command: alert if it wrote the sub-GHz configuration successfully (DBCH04)."""
    if response is None or payload.get("apdu") != "Access-Request":
        return
    specs = payload.get("access_request_specification") or []
    results = response.get("access_response_specification") or []
    for spec, res in zip(specs, results):
        if spec.get("choice") == "access-request-set" and spec.get("obis") == SUB_GHZ_CONFIGURATION \
                and res.get("result") == SUCCESS:
            device.raise_alert(ALERT_CONFIGURATION_CHANGED, critical=False,
                               message_code=CONFIGURATION_CHANGED_ALERT)
            return


INSTANCE_TYPES[(1, SUB_GHZ_CHANNEL, 2)] = lambda: channel_value(DEFAULT_CHANNEL_MASK)
INSTANCE_DEVICE[(1, SUB_GHZ_CHANNEL)] = "CHF"
