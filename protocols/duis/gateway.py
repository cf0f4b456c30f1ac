"""The DCC User gateway checks of a DUIS request, in DUIS order (sans-IO).

bytes in -> L{Accepted} (the request, the User and the roles it may act in) or L{DuisError}
carrying the response code:

  1. schema (E1), service reference (E4), CommandVariant (E5)  - L{protocols.duis.request};
  2. the originator of the RequestID is a known DCC User (E2);
  3. the XML signature verifies against that User's certificate (E3);
  4. the User holds a role eligible for the variant (E6)        - L{protocols.duis.rbac};
  5. the RequestID counter is greater than the last accepted one for the same
     originator and target (E7: replayed or stale).

The counter is recorded only by L{Gateway.commit}, once the caller has accepted the request
(so a request refused later, e.g. for an unknown device, does not burn its counter, and a
forged one never does).  Device-level checks (inventory, registration) are the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from cryptography.hazmat.primitives.asymmetric import ec

from protocols.duis import codes, rbac, xmldsig
from protocols.duis.errors import DuisError
from protocols.duis.matrix import RequestMatrix, load_matrix
from protocols.duis.request import ServiceRequest, format_eui, parse_request

__all__ = ["UserCredentials", "Accepted", "Gateway"]


@dataclass(frozen=True, slots=True)
class UserCredentials:
    """What the gateway needs to know about a DCC User."""

    user_id: int
    roles: frozenset[str]
    #: the User's signature-checking keys: (certificate serial, or None for a bare key; public key)
    keys: tuple[tuple[int | None, ec.EllipticCurvePublicKey], ...]


@dataclass(frozen=True, slots=True)
class Accepted:
    request: ServiceRequest
    user: UserCredentials
    roles: frozenset[str]  # the User's roles eligible for the request (empty for a signed pre-command)


class Gateway:
    """Checks requests for one DCC; holds the last accepted counter per (originator, target)."""

    def __init__(self, users: Callable[[int], UserCredentials | None], matrix: RequestMatrix | None = None,
                 max_counters: int = 1 << 20) -> None:
        self._users = users
        self._matrix = matrix or load_matrix()
        self._counters: dict[tuple[int, int], int] = {}
        self._max_counters = max_counters

    def check(self, data: bytes) -> Accepted:
        """Run checks 1-5 on a request document."""
        request = parse_request(data, self._matrix)
        rid = request.request_id
        user = self._users(rid.originator)
        if user is None:
            raise DuisError(codes.UNKNOWN_USER, "Header.RequestID",
                            f"{format_eui(rid.originator)} is not a DCC User of this DCC")
        self._verify_signature(request, user)
        roles = frozenset()
        if request.definition is not None:
            roles = rbac.eligible_roles(request.definition, user.roles)
        last = self._counters.get((rid.originator, rid.target))
        if last is not None and rid.counter <= last:
            raise DuisError(codes.REQUEST_ID, "Header.RequestID",
                            f"RequestID counter {rid.counter} is not greater than {last}, the last accepted "
                            f"from {format_eui(rid.originator)} for {format_eui(rid.target)}")
        return Accepted(request, user, roles)

    def commit(self, request: ServiceRequest) -> None:
        """Record the request's counter as the last accepted one."""
        rid = request.request_id
        self.advance(rid.originator, rid.target, rid.counter)

    def advance(self, originator: int, target: int, counter: int) -> None:
        """Record C{counter} as used for (C{originator}, C{target}) (also by a command the DCC
        sends on the User's behalf later: DSP future-dated or scheduled)."""
        key = (originator, target)
        if key not in self._counters and len(self._counters) >= self._max_counters:
            self._counters.pop(next(iter(self._counters)))
        self._counters[key] = max(counter, self._counters.get(key, -1))

    def last_counter(self, originator: int, target: int) -> int | None:
        return self._counters.get((originator, target))

    @staticmethod
    def _verify_signature(request: ServiceRequest, user: UserCredentials) -> None:
        named = xmldsig.key_info(request.document)
        candidates = list(user.keys)
        if named is not None:
            candidates = [k for k in candidates if k[0] == named[1]]
            if not candidates:
                raise DuisError(codes.SIGNATURE, "Signature.KeyInfo",
                                f"the signature names certificate serial {named[1]}, which is not one of "
                                f"{format_eui(user.user_id)}'s")
        if not candidates:
            raise DuisError(codes.SIGNATURE, "Signature", f"no key on file for {format_eui(user.user_id)}")
        reason = ""
        for _serial, key in candidates:
            try:
                xmldsig.verify(request.document, key)
                return
            except xmldsig.SignatureInvalid as e:
                reason = str(e)
        raise DuisError(codes.SIGNATURE, "Signature", reason)
