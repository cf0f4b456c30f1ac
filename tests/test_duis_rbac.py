"""RBAC from the request matrix and the inventory registration (architecture 5.2)."""

from __future__ import annotations

import pytest

from protocols.duis import codes, rbac
from protocols.duis.errors import DuisError
from protocols.duis.matrix import load_matrix

SUPPLIER, NO, OTHER = 1, 2, 3


def test_eligible_roles_intersect_the_matrix():
    m = load_matrix()
    assert rbac.eligible_roles(m.get("4.16"), {"IS", "GS", "ES"}) == {"IS"}
    assert rbac.eligible_roles(m.get("4.8.1"), {"OU"}) == {"OU"}
    with pytest.raises(DuisError) as info:
        rbac.eligible_roles(m.get("7.1"), {"ED", "GT"})  # Enable Supply: import supplier only
    assert info.value.code is codes.USER_ROLE and "7.1 Enable Supply is for roles IS" in info.value.reason
    with pytest.raises(DuisError):
        rbac.eligible_roles(m.get("8.6"), {"IS"})  # Service Opt In: no eligible role in the matrix


def test_device_requests_need_the_registered_party():
    m = load_matrix()
    reg = {"IS": SUPPLIER, "ED": NO}
    assert rbac.authorise_for_device(m.get("4.16"), frozenset({"IS"}), SUPPLIER, reg) == "IS"
    assert rbac.authorise_for_device(m.get("4.16"), frozenset({"ED"}), NO, reg) == "ED"
    with pytest.raises(DuisError) as info:
        rbac.authorise_for_device(m.get("4.16"), frozenset({"IS"}), OTHER, reg)
    assert info.value.code is codes.NOT_REGISTERED
    with pytest.raises(DuisError):  # registered as ED does not make the network operator a supplier
        rbac.authorise_for_device(m.get("4.16"), frozenset({"IS"}), NO, reg)
    # Other Users act by role alone
    assert rbac.authorise_for_device(m.get("4.8.1"), frozenset({"OU"}), OTHER, reg) == "OU"
