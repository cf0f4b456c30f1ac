"""Provisioning GBCS devices from a key store directory in the RTDS layout.

A device takes its EUI-64, its own key pairs and the certificates of its remote parties
from the key store (C{spec/gbcs-wire-format.md} sections 7 and 9): every organisation
certificate in the store (subject OU = remote party role) is installed on the device as a
trust anchor, so commands signed and MACed with the reference keys are valid for it.

A device holds one trust anchor per remote party role (GBCS): where the store has several
parties in a role (two suppliers), the first is installed unless the caller names which
(L{install_party}, e.g. the originator of the command a test delivers).

The RTDS key store holds device certificates but no device private keys.  Key agreement is
symmetric (the device's shared secret with a remote party equals the remote party's with the
device), so MACs and encrypted parts still work from the remote parties' private keys; the
device's digital-signature key, which signs its responses to critical commands and its
critical alerts, is generated from the seeded RNG when the store has none, and its public key
replaces the certificate's in the home's key store (so the DCC side verifies with it).

The device's Root trust anchor cell is the store's root CA certificate (C{root.pem},
L{KeyStore.root_anchor}) unless the caller gives one (the RTDS replay reconstructs it,
L{emulator.pki_recovery}).  A device without one cannot validate a certification path.
"""

from __future__ import annotations

import random
from typing import Any, Callable

from protocols.gbcs.crypto import DEFAULT_ACB_EUI, GbcsCrypto
from protocols.gbcs.keystore import KeyStore
from protocols.gbcs.pki import TrustAnchor

from emulator.devices.gbcs.device import GbcsDevice
from emulator.devices.gbcs.security import CELL_ROLES, KA_ONLY_CELLS, ROLE_ACB, TRUST_ANCHOR_ROLES, RemoteParty, SecurityState

__all__ = ["remote_parties", "provision", "acb_eui", "install_party", "provide_ka_key"]


def remote_parties(keystore: KeyStore) -> list[RemoteParty]:
    """Every remote party in the store: an organisation certificate with a role (OU)."""
    parties: dict[int, RemoteParty] = {}
    for eui, usage in keystore.entries():
        if usage not in ("ds", "ka") or eui in parties:
            continue
        role = keystore.role(eui, "ds")
        if role is None:
            role = keystore.role(eui, "ka")
        if role is None:
            continue
        parties[eui] = RemoteParty(eui, role, keystore.public_key(eui, "ds"))
    return sorted(parties.values(), key=lambda p: p.eui)


def _cells(security: SecurityState, keystore: KeyStore, party: RemoteParty, device_type: str) -> None:
    """The trust anchor cells of an installed party: DS, KA and (suppliers) prepayment KA, when
    the device type has cells for its role (L{TRUST_ANCHOR_ROLES})."""
    from cryptography import x509
    if party.role not in TRUST_ANCHOR_ROLES.get(device_type, CELL_ROLES):
        return
    for key in [k for k in security.cells if k[0] == party.role]:
        del security.cells[key]
    for usage, ku, cell in (("ds", "80", None), ("ka", "08", None), ("pp-ka", "08", 1)):
        if usage == "ds" and (device_type, party.role) in KA_ONLY_CELLS:
            continue
        cert = keystore.certificate(party.eui, usage)
        if cert is None:
            continue
        try:
            ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex().upper()
        except x509.ExtensionNotFound:
            continue
        security.cells[(party.role, ku, cell)] = (party.eui, ski)


def acb_eui(keystore: KeyStore) -> int:
    """The Access Control Broker of the store (role 04 KA certificate), else the test PKI's."""
    found = keystore.euis_with_role(ROLE_ACB, "ka")
    return found[0] if found else DEFAULT_ACB_EUI


def provision(device_class: type[GbcsDevice], eui: int, keystore: KeyStore, clock: Any,
              send: Callable[[bytes], None], *, rng: random.Random, crypto: GbcsCrypto | None = None,
              alert_counter: int = 1, root: TrustAnchor | None = None) -> GbcsDevice:
    """A device of C{device_class} with C{eui}, keys from C{keystore} and its remote parties installed.

    C{keystore} is the home's store (it gains the device's DS key when it had none); C{root}
    is the Root trust anchor (default: the store's root certificate, if it has one).
    """
    if not keystore.has_private_key(eui, "ds"):
        keystore.generate(eui, "ds", rng)
    security = SecurityState(root=root if root is not None else keystore.root_anchor())
    for party in remote_parties(keystore):
        if not any(p.role == party.role for p in security.remote_parties.values()):
            security.install(party)
            _cells(security, keystore, party, device_class.device_type)
    if crypto is None:
        crypto = GbcsCrypto(keystore, acb_eui(keystore))
    return device_class(eui, crypto, clock, send, security=security, alert_counter=alert_counter)


def install_party(device: GbcsDevice, keystore: KeyStore, eui: int) -> bool:
    """Make C{eui} the device's remote party of its role (replacing the one installed); False
    if the store has no role certificate for it."""
    for party in remote_parties(keystore):
        if party.eui == eui:
            for other in [p for p in device.security.remote_parties.values() if p.role == party.role]:
                del device.security.remote_parties[other.eui]
            device.security.install(party)
            _cells(device.security, keystore, party, device.device_type)
            return True
    return False


def provide_ka_key(keystore: KeyStore, eui: int, peer: int, seed: int) -> bool:
    """Make the device C{eui} able to agree a key with C{peer} device to device (HAN-only
    messages: PPMID x GSME, spec/gbcs-wire-format.md section 2.2).

    Remote-party messages need no device KA private key (the party's key pairs with the
    device certificate), but two devices need one of theirs.  When the store holds neither,
    C{eui}'s KA key pair is generated from C{seed} (deterministic per seed and EUI) and its
    public key replaces the certificate's in the home's key store, as the DS key does in
    L{provision}.  True if a key was generated.  The peer's certificate key is left as it is
    (its UTRNs, its MACs with remote parties still verify).
    """
    if keystore.has_private_key(eui, "ka") or keystore.has_private_key(peer, "ka"):
        return False
    keystore.generate(eui, "ka", random.Random(f"ka-{seed}-{eui:016X}"))
    return True
