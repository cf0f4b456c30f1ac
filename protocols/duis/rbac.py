"""Role-based access control of DUIS requests (architecture 5.2, "ACB RBAC").

Two checks, both from data: the request matrix says which DCC User roles may send a service
reference variant; the inventory says which organisation is the registered party, in each
role, for the target device (import supplier, gas supplier, electricity distributor, gas
transporter, export supplier, registered supplier agent).  A device request is allowed when
the User holds an eligible role and is registered in that role for the device; Other Users
(OU) are not registered per device and are allowed by role alone.
"""

from __future__ import annotations

from typing import Mapping

from protocols.duis import codes
from protocols.duis.errors import DuisError
from protocols.duis.matrix import ServiceRequestDef

__all__ = ["eligible_roles", "authorise_for_device", "UNREGISTERED_ROLES"]

#: roles that are not registered per device in the inventory
UNREGISTERED_ROLES = frozenset({"OU"})


def eligible_roles(definition: ServiceRequestDef, user_roles: frozenset[str] | set[str]) -> frozenset[str]:
    """The User's roles that may send C{definition}; L{DuisError} (E6) if none."""
    roles = frozenset(user_roles) & definition.eligible_roles
    if not roles:
        allowed = ", ".join(sorted(definition.eligible_roles)) or "none"
        raise DuisError(codes.USER_ROLE, "Header.ServiceReferenceVariant",
                        f"{definition.variant} {definition.name} is for roles {allowed}; the User has "
                        f"{', '.join(sorted(user_roles)) or 'no role'}")
    return roles


def authorise_for_device(definition: ServiceRequestDef, acting_roles: frozenset[str], user_id: int,
                         registered: Mapping[str, int | None]) -> str:
    """The role in which C{user_id} may address a device whose registered party per role is
    C{registered}; L{DuisError} (E9) if the User is registered in none of C{acting_roles}."""
    for role in sorted(acting_roles):
        if role in UNREGISTERED_ROLES or registered.get(role) == user_id:
            return role
    raise DuisError(codes.NOT_REGISTERED, "Header.RequestID",
                    f"the User {user_id:016X} is not the device's registered "
                    f"{' or '.join(sorted(acting_roles))} for {definition.variant} {definition.name}")
