"""GBCS remote-party messages: framing, crypto, key store, use cases, UTRN, payloads.

Implements the Great Britain Companion Specification message layer as restated byte for byte
in C{spec/gbcs-wire-format.md}:

  - L{framing}: General-Ciphering (0xDD) MAC wrapper and General-Signing (0xDF) grouping
    header, lengths, other-information variants, signature field forms (sections 1.1-1.5);
  - L{crypto}: static-static ECDH P-256, Concat KDF, GMAC, AES-GCM, ECDSA and which keys
    protect which message (sections 2.1-2.4);
  - L{keystore}: certificates and keys in the RTDS key-store layout (sections 7, 9);
  - L{catalogue}: message codes (use cases) and alert codes (section 5, Appendix B);
  - L{utrn}: prepayment top-up codes (section 4.5);
  - L{message}: whole-message decode / verify / encode and the JSON tree;
  - C{payloads}: DLMS/COSEM, GBZ and ASN.1 payload codecs (sections 3-4).

Everything here is a pure codec: no I/O except the key store reading its directory.
"""

from protocols.gbcs.catalogue import UseCase, alert_name, use_case, use_case_by_name, use_cases
from protocols.gbcs.crypto import (DEFAULT_ACB_EUI, GbcsCrypto, MessagePayloadCrypto, ecdh, ecdsa_sign,
                                   ecdsa_verify, kdf)
from protocols.gbcs.framing import (CRA_ALERT, CRA_COMMAND, CRA_RESPONSE, Frame, GeneralCiphering,
                                    GeneralSigning, OtherInformation, decode_frame, encode_frame,
                                    encode_general_signing)
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.message import (ConformanceResult, DecodedMessage, Verification, check_conformance,
                                    decode_message, encode_message, message_to_tree, protect,
                                    sign_precommand, verify_frame)
from protocols.gbcs.utrn import decode_utrn, generate_utrn, verify_utrn

__all__ = [
    "UseCase", "alert_name", "use_case", "use_case_by_name", "use_cases",
    "DEFAULT_ACB_EUI", "GbcsCrypto", "MessagePayloadCrypto", "ecdh", "ecdsa_sign", "ecdsa_verify", "kdf",
    "CRA_ALERT", "CRA_COMMAND", "CRA_RESPONSE", "Frame", "GeneralCiphering", "GeneralSigning",
    "OtherInformation", "decode_frame", "encode_frame", "encode_general_signing",
    "KeyStore",
    "ConformanceResult", "DecodedMessage", "Verification", "check_conformance", "decode_message",
    "encode_message", "message_to_tree", "protect", "sign_precommand", "verify_frame",
    "decode_utrn", "generate_utrn", "verify_utrn",
]
