"""Shared data and small tools for the DUIS / DCC tests.

The DUIS templates, the RTDS key store and the DCC samples live in C{shared/} beside the
repository.  Without them the tests skip on a developer machine and fail under CI (env CI).
"""

from __future__ import annotations


import pytest
from lxml import etree

from tests.conftest import KEYSTORE, REPO, RTDS, SPEC_DUIS, TEMPLATES, in_ci  # paths defined once
RTDS_HOME = REPO / "topologies" / "rtds-home.yaml"

SUPPLIER = 0x90B3D51F30010000
NETWORK_OPERATOR = 0x90B3D51F30020000
SUPPLIER_2 = 0x90B3D51F30030000
DCC = 0x90B3D51F30000002
ESME = 0x00DB1234567890A0


def require_shared() -> None:
    """Skip (fail under CI) when the shared reference data is absent."""
    missing = [p for p in (TEMPLATES, KEYSTORE, RTDS, SPEC_DUIS) if not p.is_dir()]
    if missing:
        if in_ci():
            pytest.fail(f"shared reference data missing under CI: {missing[0]}")
        pytest.skip(f"shared reference data not present: {missing[0]}")


def template(name: str) -> bytes:
    require_shared()
    return (TEMPLATES / name).read_bytes()


def keystore():
    """One RTDS key store for the whole test session (keys parsed once)."""
    global _KEYSTORE
    require_shared()
    if _KEYSTORE is None:
        from protocols.gbcs.keystore import KeyStore
        _KEYSTORE = KeyStore(KEYSTORE)
    return _KEYSTORE


_KEYSTORE = None


def set_header(data: bytes, **fields: str) -> bytes:
    """A copy of a request with header fields replaced (e.g. RequestID=..., CommandVariant=...)."""
    root = etree.fromstring(data)
    ns = "http://www.dccinterface.co.uk/ServiceUserGateway"
    for name, value in fields.items():
        el = root.find(f"{{{ns}}}Header/{{{ns}}}{name}")
        assert el is not None, name
        el.text = value
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


def signed(data: bytes, user: int | None = None, ks=None) -> bytes:
    """The request signed with the DS key of C{user} (default: the RequestID's originator)."""
    from protocols.duis import xmldsig
    from protocols.duis.request import SR, parse_request_id
    ks = ks or keystore()
    root = etree.fromstring(data)
    if user is None:
        user = parse_request_id(root.findtext(f"{{{SR}}}Header/{{{SR}}}RequestID")).originator
    xmldsig.sign(root, ks.private_key(user, "ds"), ks.certificate(user, "ds"))
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


def rtds_hex(use_case_dir: str, name: str) -> bytes:
    require_shared()
    return bytes.fromhex((RTDS / use_case_dir / name).read_text().strip())
