"""Certificate-Based Key Establishment (ZigBee Smart Energy 1.4 Annex C, crypto suite 2).

 - L{certificate}: the 74-octet implicit certificate and ECQV (SEC 4);
 - L{ecmqv}: ECMQV, the AES-MMO KDF and the MACU / MACV key-confirmation tags;
 - L{messages}: the Key Establishment cluster command payloads and terminate statuses;
 - L{machine}: the sans-IO initiator and responder (L{KeyEstablishment});
 - L{credentials}: a seeded CA and per-device credentials for a topology.

The curve arithmetic is L{protocols.zigbee.ecc283}.
"""

from protocols.zigbee.cbke.certificate import (
    CertificateAuthority, CertificateError, ImplicitCertificate, TrustedCA)
from protocols.zigbee.cbke.credentials import make_credentials
from protocols.zigbee.cbke.machine import (
    DeviceCredentials, KeyEstablishment, KeyEstablishmentResult, Outcome)
from protocols.zigbee.cbke.messages import TerminateStatus, decode_command, encode

__all__ = ["CertificateAuthority", "CertificateError", "ImplicitCertificate", "TrustedCA",
           "make_credentials", "DeviceCredentials", "KeyEstablishment",
           "KeyEstablishmentResult", "Outcome", "TerminateStatus", "decode_command", "encode"]
