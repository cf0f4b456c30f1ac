"""DUIS response codes (DCC User Interface Specification, section 3: response codes).

One table, one place.  C{I0} (success), C{I99} (acknowledgement: received, will be processed)
and C{E65} come from the DCC samples in C{spec/duis/}; the meaning of every error below is the
validation step of DUIS section 3 that produces it.  A DUIS error is always returned as a value
(an acknowledgement or response carrying the code), never as a stack trace.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ResponseCode", "SUCCESS", "ACKNOWLEDGEMENT", "CODES", "by_code"]


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
FAILED = ResponseCode("E65", "ProcessingFailure",
                      "the service request failed while being processed (a fault of the DCC, logged)")

CODES: tuple[ResponseCode, ...] = (
    SUCCESS, ACKNOWLEDGEMENT, SCHEMA, UNKNOWN_USER, SIGNATURE, SERVICE_REFERENCE, COMMAND_VARIANT,
    USER_ROLE, REQUEST_ID, UNKNOWN_DEVICE, NOT_REGISTERED, DEVICE_STATUS, BUSY, NOT_SUPPORTED,
    INVALID_DATA, PRECOMMAND, TIMED_OUT, FAILED,
)
_BY_CODE = {c.code: c for c in CODES}


def by_code(code: str) -> ResponseCode:
    """The L{ResponseCode} for a code string (KeyError if unknown)."""
    return _BY_CODE[code]
