"""DUIS response codes: one table, one place.

Where each code comes from (checked against C{spec/}: the E2E architecture names no DUIS
response code; C{spec/duis/} holds DCC's own messages):

  - from DCC's messages in C{spec/duis/}: C{I0} (success, C{readfw-response.xml}) and C{E65}
    (processing failure, C{acknowledgement-error.xml}); C{I99} (acknowledgement) is the
    DUIS acknowledgement code of the same response family;
  - from the DUIS specification family, from memory (DUIS section 3's validation order:
    schema, user, signature, service reference, command variant, role, counter, inventory,
    registration, device status), not checked against spec text here: C{E1}-C{E10}, C{E12}-C{E14};
  - ours (the spec is silent; numbered outside the validation steps above so they cannot be
    mistaken for DUIS's): C{E11} (the DCC is busy: a bounded table is full), C{E15} (no device
    response within the target response time, architecture 5.5: every request ends in success,
    failure or timeout), C{I98} (accepted and quarantined by anomaly detection, architecture
    4.2.3.1's "holding queue ... before release") and C{E16} (a quarantined request was
    rejected, or nobody released it in time).

A DUIS error is always returned as a value (an acknowledgement or response carrying the code),
never as a stack trace.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ResponseCode", "SUCCESS", "ACKNOWLEDGEMENT", "QUARANTINED", "REJECTED", "CODES", "by_code"]


@dataclass(frozen=True, slots=True)
class ResponseCode:
    """One DUIS response code and what it means."""

    code: str
    name: str
    text: str

    @property
    def is_error(self) -> bool:
        return self.code.startswith("E")


SUCCESS = ResponseCode("I0", "Success", "the service request was processed")
ACKNOWLEDGEMENT = ResponseCode("I99", "Acknowledgement", "the service request was received and will be processed")

#: the validation failures, in the order DUIS checks them
SCHEMA = ResponseCode("E1", "SchemaValidationFailure",
                      "the request is not well-formed XML or does not follow the DUIS schema")
UNKNOWN_USER = ResponseCode("E2", "UnknownUser", "the originator in the RequestID is not a known DCC User")
SIGNATURE = ResponseCode("E3", "SignatureValidationFailure",
                         "the XML signature does not verify against the DCC User's certificate")
SERVICE_REFERENCE = ResponseCode("E4", "InvalidServiceReference",
                                 "unknown service reference, or a variant that does not belong to it")
COMMAND_VARIANT = ResponseCode("E5", "InvalidCommandVariant",
                               "the CommandVariant is not allowed for the service reference variant")
USER_ROLE = ResponseCode("E6", "UserRoleNotEligible",
                         "none of the DCC User's roles is eligible for the service reference variant")
REQUEST_ID = ResponseCode("E7", "RequestIDCounterNotIncreasing",
                          "the RequestID counter is not greater than the last one from this DCC User "
                          "(replayed or stale request)")
UNKNOWN_DEVICE = ResponseCode("E8", "DeviceNotInInventory", "the target device is not in the Smart Meter Inventory")
NOT_REGISTERED = ResponseCode("E9", "UserNotRegisteredForDevice",
                              "the DCC User is not the registered party, in the role the request needs, "
                              "for the target device")
DEVICE_STATUS = ResponseCode("E10", "DeviceStatusInvalid",
                             "the device's inventory status does not allow this service request")
NOT_SUPPORTED = ResponseCode("E12", "ServiceRequestNotSupported",
                             "this DCC cannot carry out the service request (no transform for it)")
INVALID_DATA = ResponseCode("E13", "InvalidRequestData",
                            "a field of the request body has a value the service request cannot use")
PRECOMMAND = ResponseCode("E14", "SignedPreCommandInvalid",
                          "the signed pre-command does not match an outstanding pre-command, "
                          "or its GBCS signature does not verify")
BUSY = ResponseCode("E11", "DccBusy", "the DCC has too many requests in flight to take this one now")
TIMED_OUT = ResponseCode("E15", "NoResponseWithinTargetTime",
                         "the device did not answer within the target response time of the request")
QUARANTINED = ResponseCode("I98", "Quarantined",
                          "the request was accepted and is held by the DCC's anomaly detection until it is "
                          "released (then carried out) or rejected")
REJECTED = ResponseCode("E16", "RejectedFromQuarantine",
                        "the request was held by anomaly detection and rejected (or not released in time)")
FAILED = ResponseCode("E65", "ProcessingFailure",
                      "the service request failed while being processed (a fault of the DCC, logged)")

CODES: tuple[ResponseCode, ...] = (
    SUCCESS, ACKNOWLEDGEMENT, SCHEMA, UNKNOWN_USER, SIGNATURE, SERVICE_REFERENCE, COMMAND_VARIANT,
    USER_ROLE, REQUEST_ID, UNKNOWN_DEVICE, NOT_REGISTERED, DEVICE_STATUS, BUSY, NOT_SUPPORTED,
    INVALID_DATA, PRECOMMAND, TIMED_OUT, QUARANTINED, REJECTED, FAILED,
)
_BY_CODE = {c.code: c for c in CODES}


def by_code(code: str) -> ResponseCode:
    """The L{ResponseCode} for a code string (KeyError if unknown)."""
    return _BY_CODE[code]
