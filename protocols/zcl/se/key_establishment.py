"""Key Establishment cluster (0x0800), message formats only.

Implements the frame formats of ZigBee Smart Energy 1.4 (07-5356-19) Annex C.3.1, "Key
Establishment Cluster": attribute KeyEstablishmentSuite (server and client) and the commands
InitiateKeyEstablishmentRequest/Response, EphemeralDataRequest/Response,
ConfirmKeyDataRequest/Response and TerminateKeyEstablishment (both directions). The identity
(implicit certificate: 48 octets for suite 1, 74 for suite 2) and ephemeral data (22 / 37
octets) are carried as raw octets whose length depends on the suite; the CBKE computation
itself lives elsewhere.
"""

from __future__ import annotations

from protocols.zcl import types as t
from protocols.zcl.cluster_defs import ClusterDef, FixedBytes, Named, Rest
from protocols.zcl.se._util import attributes, cmd, commands

__all__ = ["KEY_ESTABLISHMENT", "KEY_ESTABLISHMENT_CLUSTER_ID", "SUITE_CBKE_ECMQV_163K1",
           "SUITE_CBKE_ECMQV_283K1", "CERTIFICATE_SIZE", "EPHEMERAL_DATA_SIZE",
           "TERMINATE_STATUS_CODES"]

KEY_ESTABLISHMENT_CLUSTER_ID = 0x0800

#: KeyEstablishmentSuite bits: suite 1 (sect163k1), suite 2 (sect283k1, used by GBCS).
SUITE_CBKE_ECMQV_163K1 = 0x0001
SUITE_CBKE_ECMQV_283K1 = 0x0002
#: Implicit certificate and ephemeral public key sizes by suite (ZSE Table C-14).
CERTIFICATE_SIZE = {SUITE_CBKE_ECMQV_163K1: 48, SUITE_CBKE_ECMQV_283K1: 74}
EPHEMERAL_DATA_SIZE = {SUITE_CBKE_ECMQV_163K1: 22, SUITE_CBKE_ECMQV_283K1: 37}

_SUITE = ("KeyEstablishmentSuite", t.BITMAP16)
_INITIATE = (_SUITE, ("EphemeralDataGenerateTime", t.UINT8),
             ("ConfirmKeyGenerateTime", t.UINT8), ("Identity", Rest()))
#: TerminateKeyEstablishment StatusCode (C.3.1.2.3.1, Table C-11).
TERMINATE_STATUS_CODES = {0x01: "Unknown Issuer", 0x02: "Bad Key Confirm", 0x03: "Bad Message",
                          0x04: "No Resources", 0x05: "Unsupported Suite",
                          0x06: "Invalid Certificate"}
_TERMINATE = (("StatusCode", Named(t.ENUM8, TERMINATE_STATUS_CODES)), ("WaitTime", t.UINT8), _SUITE)

#: The Key Establishment cluster definition.
KEY_ESTABLISHMENT = ClusterDef(
    KEY_ESTABLISHMENT_CLUSTER_ID, "Key Establishment",
    attributes([(0x0000, "KeyEstablishmentSuite", t.BITMAP16, "r", SUITE_CBKE_ECMQV_283K1)]),
    server_commands=commands(
        cmd(0x00, "InitiateKeyEstablishmentRequest", *_INITIATE),
        cmd(0x01, "EphemeralDataRequest", ("EphemeralData", Rest())),
        cmd(0x02, "ConfirmKeyDataRequest", ("SecureMessageAuthenticationCode",
                                            FixedBytes(16))),
        cmd(0x03, "TerminateKeyEstablishment", *_TERMINATE),
    ),
    client_commands=commands(
        cmd(0x00, "InitiateKeyEstablishmentResponse", *_INITIATE),
        cmd(0x01, "EphemeralDataResponse", ("EphemeralData", Rest())),
        cmd(0x02, "ConfirmKeyDataResponse", ("SecureMessageAuthenticationCode",
                                             FixedBytes(16))),
        cmd(0x03, "TerminateKeyEstablishment", *_TERMINATE),
    ),
    client_attributes=attributes([(0x0000, "KeyEstablishmentSuite", t.BITMAP16, "r",
                                   SUITE_CBKE_ECMQV_283K1)]),
)
