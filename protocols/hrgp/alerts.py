"""GBCS alerts the CHF raises about the messages it carries.

Implements the CHF alert of C{spec/gbcs-wire-format.md} 4.1.4 in the form of the
reference data (RTDS C{NA_GNCA-DLMS}): a Generic Non Critical Alert (message code 0x1001),
CRA flag alert, from the CHF to the Access Control Broker, whose DLMS Data-Notification
body is the structure {alert code (long-unsigned), time stamp (octet-string, DLMS
date-time)}, MACed (General-Ciphering) with the key the CHF shares with the recipient.

Alert codes (C{spec/alert_codes.tsv}): 0x819D "GSME Command Not Retrieved".
"""

from __future__ import annotations

import datetime as _dt

from protocols.errors import CodecError
from protocols.gbcs.framing import CRA_ALERT, GeneralCiphering, GeneralSigning, OtherInformation
from protocols.gbcs.message import protect
from protocols.gbcs.payloads.dlms import data_notification, encode_apdu

__all__ = ["MESSAGE_CODE_GENERIC_NON_CRITICAL_ALERT", "dlms_date_time", "chf_alert"]

MESSAGE_CODE_GENERIC_NON_CRITICAL_ALERT = 0x1001


def dlms_date_time(unix_seconds: float) -> bytes:
    """The 12-octet DLMS date-time of a UTC instant (deviation 0, clock status 0)."""
    moment = _dt.datetime.fromtimestamp(int(unix_seconds), _dt.timezone.utc)
    return (moment.year.to_bytes(2, "big")
            + bytes((moment.month, moment.day, moment.isoweekday(), moment.hour, moment.minute, moment.second, 0))
            + b"\x00\x00\x00")


def chf_alert(crypto, chf_eui: int, recipient: int, originator_counter: int, alert_code: int,
              unix_seconds: float) -> bytes:
    """The GBCS message of a CHF generic non-critical alert, MACed.

    @param crypto: a L{protocols.gbcs.crypto.GbcsCrypto} able to derive the CHF-recipient key.
    @raise CodecError: no key to compute the MAC with.
    """
    body = {"type": "structure", "value": [
        {"type": "long-unsigned", "value": alert_code},
        {"type": "octet-string", "value": dlms_date_time(unix_seconds).hex().upper()},
    ]}
    content = encode_apdu(data_notification(originator_counter, body))
    gs = GeneralSigning(CRA_ALERT, originator_counter, chf_eui, recipient, None,
                        OtherInformation(MESSAGE_CODE_GENERIC_NON_CRITICAL_ALERT), content, b"")
    if crypto is None:
        raise CodecError("general_ciphering.mac", 0, "no key store: the CHF cannot MAC its alert")
    return protect(gs, crypto, GeneralCiphering(b""))
