"""CBKE on the HAN: who holds which certificate, and the Key Establishment cluster (0x0800)
between each joining device (initiator, cluster client) and the CH (responder, server).

Certificates (ZSE 1.4 Annex C, suite 2) come from seeded certificate authorities: one per
name, shared by the whole estate (the SMKI "ZigBee Device CA" is one CA for every home), so
the same seed gives byte-identical certificates and keys and adding a device never changes
another's.  The CA a home trusts is the CH's C{cbke_ca} option (default C{"smki"}); a
device's certificate is issued by its own C{cbke_ca} (default: the home's), or is given
explicitly (C{cbke_certificate} + C{cbke_private_key}); C{cbke: false} models a device that
does not run key establishment at all (it keeps the install-code link key).

The exchange itself is L{protocols.zigbee.cbke.machine.KeyEstablishment}; this module only
carries its commands in ZCL frames over APS with NWK security and no APS security (the Key
Establishment cluster is exempt from APS link-key security: ZSE C.3.1) and hands the result
to the device.
"""

from __future__ import annotations

from typing import Callable

from emulator.rng import derive_rng
from protocols.zcl.frame import ZclFrame
from protocols.zigbee.cbke.certificate import CertificateAuthority, ImplicitCertificate
from protocols.zigbee.cbke.credentials import issue_device_credentials, make_certificate_authority
from protocols.zigbee.cbke.machine import DeviceCredentials, KeyEstablishment, KeyEstablishmentResult
from protocols.zigbee.cbke.messages import zcl_frame

CLUSTER_KEY_ESTABLISHMENT = 0x0800
DEFAULT_CA = "smki"
#: first retry after a failed run (s), growth per failure, ceiling, jitter (+-)
RETRY_FIRST = 15.0
RETRY_GROWTH = 2.0
RETRY_MAX = 900.0
RETRY_JITTER = 0.2

__all__ = ["CLUSTER_KEY_ESTABLISHMENT", "DEFAULT_CA", "CertificateAuthorities", "KeyEstablishmentLink",
           "retry_delay"]


class CertificateAuthorities:
    """The seeded CAs of an estate, made on first use, and each device's credentials."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._cas: dict[str, CertificateAuthority] = {}

    def ca(self, name: str) -> CertificateAuthority:
        ca = self._cas.get(name)
        if ca is None:
            seed = self.seed
            ca = self._cas[name] = make_certificate_authority(
                lambda *names: derive_rng(seed, "cbke", name, *names))
        return ca

    @staticmethod
    def home_ca_name(home_spec) -> str:
        """The CA the home's CH trusts (its C{cbke_ca} option)."""
        for dev in home_spec.devices:
            if dev.kind == "CH":
                return dev.params.get("cbke_ca", DEFAULT_CA)
        return DEFAULT_CA

    def credentials_for(self, home_spec, spec) -> DeviceCredentials | None:
        """The device's certificate, private key and trusted CA; None with C{cbke: false}."""
        params = spec.params
        if params.get("cbke", True) is False:
            return None
        home_ca = self.ca(self.home_ca_name(home_spec))
        if "cbke_certificate" in params:
            certificate = ImplicitCertificate.from_bytes(bytes.fromhex(params["cbke_certificate"]))
            return DeviceCredentials(certificate, int(params["cbke_private_key"], 16), home_ca.trusted)
        issuer_name = params.get("cbke_ca", self.home_ca_name(home_spec)) if spec.kind != "CH" \
            else self.home_ca_name(home_spec)
        subject = spec.eui64.to_bytes(8, "big")
        name = subject.hex()
        seed = self.seed
        # (a device trusts the CA that issued its own certificate)
        return LazyCredentials(lambda: issue_device_credentials(
            self.ca(issuer_name), subject, derive_rng(seed, "cbke", "device", name),
            derive_rng(seed, "cbke", "issue", name)))


class LazyCredentials:
    """A device's CBKE credentials, issued (two sect283k1 scalar multiplications) the first
    time a Key Establishment run needs them: a home that never runs CBKE, or has not yet,
    pays nothing.  The RNGs are derived from the seed and the device, so when they are
    issued does not change what they are."""

    __slots__ = ("_make", "_value")

    def __init__(self, make: Callable[[], DeviceCredentials]) -> None:
        self._make = make
        self._value: DeviceCredentials | None = None

    def _get(self) -> DeviceCredentials:
        if self._value is None:
            self._value = self._make()
            self._make = None
        return self._value

    @property
    def certificate(self):
        return self._get().certificate

    @property
    def private_key(self) -> int:
        return self._get().private_key

    @property
    def ca(self):
        return self._get().ca

    def __repr__(self) -> str:          # key material is never logged
        return repr(self._value) if self._value is not None else "DeviceCredentials(not yet issued)"


def retry_delay(failures: int, wait_time: int, rng) -> float:
    """Seconds before the next run after C{failures} failed ones: growing, with seeded jitter,
    never shorter than the wait time the peer asked for in its Terminate."""
    base = min(RETRY_MAX, RETRY_FIRST * RETRY_GROWTH ** max(0, failures - 1))
    return max(float(wait_time), base * rng.uniform(1.0 - RETRY_JITTER, 1.0 + RETRY_JITTER))


class KeyEstablishmentLink:
    """One Key Establishment run over the air: a machine plus how its commands travel.

    @param send_zcl: C{send_zcl(frame)} sends a ZCL frame to the peer's Key Establishment
        endpoint (NWK security only).
    @param next_tsn: the device's ZCL transaction sequence numbers (initiator requests).
    """

    def __init__(self, *, initiator: bool, clock, rng, credentials: DeviceCredentials, partner_eui64: int,
                 send_zcl: Callable[[ZclFrame], None], next_tsn: Callable[[], int],
                 on_done: Callable[[KeyEstablishmentResult], None]) -> None:
        self._send_zcl = send_zcl
        self._next_tsn = next_tsn
        self._initiator = initiator
        self._peer_tsn = 0
        self.machine = KeyEstablishment(initiator=initiator, clock=clock, rng=rng, credentials=credentials,
                                        send=self._send, on_done=on_done,
                                        partner_eui64=partner_eui64.to_bytes(8, "big"))

    def start(self) -> None:
        self.machine.start()

    def receive_frame(self, frame: ZclFrame) -> None:
        self._peer_tsn = frame.tsn
        self.machine.receive_frame(frame)

    def _send(self, command) -> None:
        # a response carries the TSN of the request it answers; a request gets a fresh one
        tsn = self._next_tsn() if self._initiator else self._peer_tsn
        self._send_zcl(zcl_frame(command, tsn))
