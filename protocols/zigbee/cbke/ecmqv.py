"""ECMQV key agreement, the KDF and the key-confirmation MACs of CBKE suite 2.

Implements ZigBee Smart Energy 1.4 (07-5356) Annex C.4.2 ("Key Establishment" with
"ECMQV primitive", "Key Derivation Function", "Key confirmation") on sect283k1:

 - the ECMQV primitive of SEC 1 v2.0 section 3.4 (cofactor form): with
   avf(Q) = (x_Q mod 2^ceil(f/2)) + 2^ceil(f/2), f = ceil(log2 n),
   s = d_E,U + avf(Q_E,U) d_S,U (mod n) and P = h s (Q_E,V + avf(Q_E,V) Q_S,V);
   the shared secret Z is x_P as a 36-octet string (SEC 1 2.3.5);
 - the ANSI X9.63 KDF of SEC 1 3.6.1 with the AES-MMO hash (ZigBee PRO B.6), no shared
   info, 256 bits: MacKey || KeyData = MMO(Z || 00000001) || MMO(Z || 00000002);
 - MACU = HMAC-MMO(MacKey, 0x02 || ID_U || ID_V || E_U || E_V) and
   MACV = HMAC-MMO(MacKey, 0x03 || ID_V || ID_U || E_V || E_U), where U is the initiator,
   V the responder, ID the 8-octet EUI-64 from the certificate subject and E the 37-octet
   compressed ephemeral public key as sent.  KeyData is the new APS link key.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.zigbee import ecc283
from protocols.zigbee.keys import aes_mmo_hash, hmac_mmo

__all__ = ["associate_value", "ecmqv", "kdf", "mac_tags", "SessionKeys", "derive_session_keys"]

#: ceil(f / 2) with f = ceil(log2 n) = 281 for sect283k1.
_AVF_BITS = (ecc283.N.bit_length() + 1) // 2
_AVF_MASK = (1 << _AVF_BITS) - 1

#: Message identifiers of the key-confirmation MACs (ZSE C.4.2.2.6).
MAC_U_ID = 0x02
MAC_V_ID = 0x03


def associate_value(q: ecc283.Point) -> int:
    """SEC 1 3.4 associate value function avf(Q)."""
    return (q.x & _AVF_MASK) | (1 << _AVF_BITS)


def ecmqv(static_private: int, ephemeral_private: int, ephemeral_public: ecc283.Point,
          peer_static_public: ecc283.Point, peer_ephemeral_public: ecc283.Point) -> bytes:
    """SEC 1 3.4 ECMQV primitive (with the cofactor): return Z (36 octets).

    @raise ValueError: if P is the point at infinity (a peer key of small order).
    """
    s = (ephemeral_private + associate_value(ephemeral_public) * static_private) % ecc283.N
    t = ecc283.point_add(peer_ephemeral_public,
                         ecc283.scalar_mult(associate_value(peer_ephemeral_public),
                                            peer_static_public))
    p = ecc283.scalar_mult(ecc283.H * s, t)
    if p.is_infinity:
        raise ValueError("ECMQV produced the point at infinity")
    return ecc283.field_to_octets(p.x)


def kdf(shared_secret: bytes, length: int = 32) -> bytes:
    """ANSI X9.63 KDF with AES-MMO (SEC 1 3.6.1), no shared info."""
    out = b""
    counter = 1
    while len(out) < length:
        out += aes_mmo_hash(shared_secret + counter.to_bytes(4, "big"))
        counter += 1
    return out[:length]


def mac_tags(mac_key: bytes, id_u: bytes, id_v: bytes, e_u: bytes,
             e_v: bytes) -> tuple[bytes, bytes]:
    """Return (MACU, MACV) for initiator U and responder V."""
    mac_u = hmac_mmo(mac_key, bytes((MAC_U_ID,)) + id_u + id_v + e_u + e_v)
    mac_v = hmac_mmo(mac_key, bytes((MAC_V_ID,)) + id_v + id_u + e_v + e_u)
    return mac_u, mac_v


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """What one CBKE run derives: the link key and both confirmation tags."""

    link_key: bytes
    mac_u: bytes
    mac_v: bytes

    def __repr__(self) -> str:          # key material is never logged
        return "SessionKeys(<secret>)"


def derive_session_keys(*, initiator: bool, static_private: int, ephemeral_private: int,
                        ephemeral_public: ecc283.Point, peer_static_public: ecc283.Point,
                        peer_ephemeral_public: ecc283.Point, local_id: bytes,
                        peer_id: bytes) -> SessionKeys:
    """Run ECMQV, the KDF and the MACs for one side of the exchange."""
    z = ecmqv(static_private, ephemeral_private, ephemeral_public, peer_static_public,
              peer_ephemeral_public)
    keying = kdf(z, 32)
    mac_key, key_data = keying[:16], keying[16:]
    e_local = ecc283.encode_point(ephemeral_public)
    e_peer = ecc283.encode_point(peer_ephemeral_public)
    if initiator:
        mac_u, mac_v = mac_tags(mac_key, local_id, peer_id, e_local, e_peer)
    else:
        mac_u, mac_v = mac_tags(mac_key, peer_id, local_id, e_peer, e_local)
    return SessionKeys(key_data, mac_u, mac_v)
