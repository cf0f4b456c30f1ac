"""The Smart Meter Inventory and the topology's dcc: section: what rtds-home.yaml builds,
the device life cycle, and configuration mistakes reported as file:line before anything runs."""

from __future__ import annotations

import pytest
from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage

from emulator.dcc.config import load_dcc_config
from emulator.dcc.inventory import DeviceStatus, Inventory, InventoryDevice, InventoryError
from emulator.service import Options, makeService
from emulator.topology import TopologyError, load_topology
from tests.duis_helpers import KEYSTORE, NETWORK_OPERATOR, RTDS_HOME, SUPPLIER, SUPPLIER_2, require_shared


def test_rtds_home_inventory():
    require_shared()
    inv = load_dcc_config(load_topology(str(RTDS_HOME), 1)).inventory
    types = {f"{d.device_id:016X}": d.device_type for d in inv.devices.values()}
    assert types == {"00DB1234567890A0": "ESME", "00DB1234567890A1": "GSME", "00DB1234567890A2": "CHF",
                     "00DB1234567890A3": "GPF", "00DB1234567890A4": "PPMID", "00DB1234567890A5": "HCALCS",
                     "00DB1234567890A6": "ESME", "00DB1234567890A7": "IHD"}
    esme = inv.device(0x00DB1234567890A0)
    assert (esme.status, esme.csp_region, esme.home, esme.chf_id, esme.firmware_version) == (
        DeviceStatus.COMMISSIONED, "north", "rtds-0001", 0x00DB1234567890A2, "0002012F")
    assert esme.registered() == {"IS": SUPPLIER, "ES": SUPPLIER, "ED": NETWORK_OPERATOR}
    assert inv.device(0x00DB1234567890A1).registered() == {"GS": SUPPLIER, "GT": NETWORK_OPERATOR}
    assert {u.name: sorted(u.roles) for u in inv.users.values()} == {
        "supplier": ["ES", "GS", "IS"], "network-operator": ["ED", "GT"], "supplier-2": ["ES", "GS", "IS"]}
    assert inv.user(SUPPLIER_2).certificates[0].serial_number != inv.user(SUPPLIER).certificates[0].serial_number
    assert inv.dcc_id == 0x90B3D51F30000002


def test_device_life_cycle():
    d = InventoryDevice(1, "ESME", DeviceStatus.PENDING, None, "north")
    for status in (DeviceStatus.WHITELISTED, DeviceStatus.INSTALLED, DeviceStatus.COMMISSIONED,
                   DeviceStatus.SUSPENDED, DeviceStatus.COMMISSIONED, DeviceStatus.DECOMMISSIONED):
        d.move(status)
        assert d.status is status
    with pytest.raises(InventoryError, match="cannot go from Decommissioned to Commissioned"):
        d.move(DeviceStatus.COMMISSIONED)
    with pytest.raises(InventoryError, match="already"):
        d.move(DeviceStatus.DECOMMISSIONED)
    inv = Inventory(2)
    inv.add_device(InventoryDevice(1, "ESME", DeviceStatus.PENDING, None, "north"))
    with pytest.raises(InventoryError, match="already in the inventory"):
        inv.add_device(InventoryDevice(1, "GSME", DeviceStatus.PENDING, None, "north"))
    with pytest.raises(InventoryError, match="unknown device type"):
        inv.add_device(InventoryDevice(3, "TOASTER", DeviceStatus.PENDING, None, "north"))
    assert DeviceStatus.parse("installed") is DeviceStatus.INSTALLED
    assert DeviceStatus.parse("Commissioned") is DeviceStatus.COMMISSIONED


_BASE = """name: t
homes:
  - name: h1
    devices:
      - {kind: CH, name: ch, eui64: "00DB1234567890A2", gpf_eui64: "00DB1234567890A3"}
      - {kind: ESME, name: esme, eui64: "00DB1234567890A0"}
dcc:
  keys: KEYS
"""


@pytest.mark.parametrize("extra, line, words", [
    ("  colour: red\n", 9, "unknown key 'colour' in dcc"),
    ("  users:\n    - {id: \"90B3D51F30010000\", roles: [XX]}\n", 10, "unknown role 'XX'"),
    ("  users:\n    - {id: \"12\"}\n", 10, "must be an EUI-64"),
    ("  users:\n    - {id: \"90B3D51F300100FF\"}\n", 10, "no certificate 90b3d51f300100ff-ds.pem"),
    ("  users:\n    - {id: \"90B3D51F30010000\", response_url: \"ftp://x\"}\n", 10, "must be an http(s) URL"),
    ("  homes:\n    h2: {}\n", 10, "no home 'h2' in the topology"),
    ("  homes:\n    h1: {csp_region: east}\n", 10, "the CSP serving a home is the home's csp:"),
    ("  homes:\n    h1: {status: broken}\n", 10, "unknown device status 'broken'"),
    ("  homes:\n    h1:\n      devices:\n        - {name: gsme}\n", 12, "no device 'gsme'"),
    ("  homes:\n    h1:\n      devices:\n        - {eui64: \"00DB1234567890A4\"}\n", 12, "needs a type"),
    ("  homes:\n    h1:\n      devices:\n        - {eui64: \"00DB1234567890A0\", type: ESME}\n", 12,
     "already in the inventory"),
])
def test_dcc_section_mistakes_name_file_and_line(tmp_path, extra, line, words):
    require_shared()
    path = tmp_path / "t.yaml"
    path.write_text(_BASE.replace("KEYS", str(KEYSTORE)) + extra)
    with pytest.raises(TopologyError) as info:
        load_dcc_config(load_topology(str(path), 1))
    assert info.value.line == line and words in info.value.message, str(info.value)
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_missing_key_store_is_reported(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(_BASE.replace("KEYS", "no-such-dir"))
    with pytest.raises(TopologyError, match="key store directory not found"):
        load_dcc_config(load_topology(str(path), 1))


def test_duis_port_option_and_service():
    require_shared()
    with pytest.raises(usage.UsageError, match="--duis-port: must be 0-65535"):
        Options().parseOptions(["--topology", str(RTDS_HOME), "--duis-port", "70000"])
    opts = Options()
    opts.parseOptions(["--topology", str(RTDS_HOME), "--duis-port", "0"])
    top = makeService(opts, reactor=MemoryReactorClock())
    assert top.getServiceNamed("duis") is not None


def test_bad_dcc_section_is_a_usage_error(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(_BASE.replace("KEYS", "no-such-dir"))
    with pytest.raises(usage.UsageError, match=r"t\.yaml:8: dcc\.keys"):
        Options().parseOptions(["--topology", str(path), "--duis-port", "0"])


_GENERATED = """name: t
homes:
  - name: h1
    devices:
      - {kind: CH, name: ch, eui64: "00DB1234567890A2", gpf_eui64: "00DB1234567890A3"}
      - {kind: ESME, name: esme, eui64: "00DB1234567890A0"}
dcc:
  users:
    - {id: "1111111111111111", name: s, roles: [IS, GS]}
  homes:
    h1: {import_supplier: "1111111111111111", gas_supplier: "1111111111111111"}
"""


def test_users_keys_made_from_the_seed_and_written_for_signing(tmp_path):
    from twisted.internet.task import Clock

    from emulator import duis_cli
    from emulator.dcc import build_host
    from tests.duis_helpers import TEMPLATES
    path = tmp_path / "t.yaml"
    path.write_text(_GENERATED)
    a = load_dcc_config(load_topology(str(path), 7), 7)
    b = load_dcc_config(load_topology(str(path), 7), 7)
    c = load_dcc_config(load_topology(str(path), 8), 8)
    user = 0x1111111111111111
    assert a.generated_keys and a.inventory.user(user).certificates == ()
    num = lambda cfg: cfg.keystore.public_key(user, "ds").public_numbers()  # noqa: E731
    assert num(a) == num(b) != num(c)
    # twistd writes them; the User signs with them; the DCC accepts the signature
    opts = Options()
    keys = tmp_path / "keys"
    opts.parseOptions(["--topology", str(path), "--seed", "7", "--duis-port", "0", "--duis-keys", str(keys)])
    assert (keys / "1111111111111111-ds.key").is_file()
    require_shared()
    request = (TEMPLATES / "8.2_READ_INVENTORY_REQUEST_DUIS.XML").read_bytes().replace(
        b"90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02", b"11-11-11-11-11-11-11-11:90-B3-D5-1F-30-00-00-02")
    (tmp_path / "req.xml").write_bytes(request)
    assert duis_cli.main(["sign", str(tmp_path / "req.xml"), "--keys", str(keys), "--out",
                          str(tmp_path / "signed.xml")]) == 0
    host = build_host(opts["dcc-config"], Clock())
    assert host.handle("D", (tmp_path / "signed.xml").read_bytes()).code == "I99"
    other = build_host(c, Clock())  # another seed, other keys: the signature does not verify
    assert other.handle("D", (tmp_path / "signed.xml").read_bytes()).code == "E3"


def test_duis_keys_option_mistakes(tmp_path):
    require_shared()
    with pytest.raises(usage.UsageError, match="already names the key store"):
        Options().parseOptions(["--topology", str(RTDS_HOME), "--duis-port", "0", "--duis-keys", str(tmp_path)])
    with pytest.raises(usage.UsageError, match="--duis-keys: needs --duis-port"):
        Options().parseOptions(["--topology", str(RTDS_HOME), "--duis-keys", str(tmp_path)])
    path = tmp_path / "t.yaml"
    path.write_text(_GENERATED.replace(", roles: [IS, GS]", ""))
    with pytest.raises(TopologyError, match="needs roles"):
        load_dcc_config(load_topology(str(path), 1))


def test_the_topology_file_is_read_once(tmp_path):
    """The dcc: section and its key store path come from the parsed topology: the file is not
    read again (it may have changed, or gone, since the run started)."""
    require_shared()
    keys = (RTDS_HOME.parent / "../../shared/rtds/keystore").resolve()
    path = tmp_path / "home.yaml"
    path.write_text(RTDS_HOME.read_text().replace("keys: ../../shared/rtds/keystore", f"keys: {keys}"))
    topology = load_topology(str(path), 1)
    path.unlink()
    inv = load_dcc_config(topology).inventory
    assert inv.device(0x00DB1234567890A0).device_type == "ESME"
    from emulator.dcc.devices import dcc_keys_path
    assert dcc_keys_path(topology) == str(keys)
