"""C{smets gbcs}: decode, encode and check GBCS messages against the DCC reference test data.

Sub-commands (GBCS framing/crypto/payloads per C{spec/gbcs-wire-format.md}):

  - C{decode FILE|HEX [--keys DIR] [--json] [--acb EUI]}: Parse-and-Correlate-style decode of
    one message given as a file (hex, base64 or raw bytes) or as a hex/base64 string: header
    fields, use case, MAC and signature status, then the payload tree.
  - C{encode JSONFILE [--keys DIR] [--resign]}: the exact bytes (hex) of a decoded message
    tree (C{-} reads standard input).  With keys the MAC is recomputed; the signature is kept
    as given unless the tree asks for one (C{signature_field.value} null or C{"sign"}) or
    C{--resign} is passed (see L{protocols.gbcs.message}).
  - C{conformance DIR --keys DIR}: check every C{*.HEX} below DIR (parse, verify, decrypt,
    decode completely, rebuild byte for byte); one line per failure (and per skip), then
    C{N passed, M failed, K skipped}.  Exit status 0 only without failures.
  - C{utrn --keys DIR --supplier EUI --device EUI --counter N --value V [--pennies]}: make a UTRN.

Malformed input exits with status 1 and one line C{error: <field> at offset N: reason}.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from protocols.errors import CodecError

__all__ = ["main", "read_message"]


def read_message(arg: str) -> bytes:
    """Message bytes from a file path or a literal: hex first, then base64 (spec section 7)."""
    path = Path(arg)
    text: str | None
    try:
        is_file = len(arg) < 4096 and path.is_file()
    except OSError:          # e.g. a long hex string is not a valid file name
        is_file = False
    if is_file:
        raw = path.read_bytes()
        if raw[:1] in (b"\xdd", b"\xdf"):
            return raw
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            return raw
    else:
        text = arg
        if "." in arg:
            # neither hex nor base64 has a dot: it names a file, so say so rather than "not hex"
            raise CodecError("input", 0, f"no such file: {arg}")
    compact = "".join(text.split())
    try:
        data = bytes.fromhex(compact)
        if data[:1] in (b"\xdd", b"\xdf") or not data:
            return data
    except ValueError:
        data = None
    try:
        decoded = base64.b64decode(compact, validate=True)
        if decoded[:1] in (b"\xdd", b"\xdf"):
            return decoded
    except (binascii.Error, ValueError):
        pass
    if data is not None:
        return data  # hex but not a GBCS tag: let the decoder name the problem
    raise CodecError("input", 0, "neither hex nor base64 of a GBCS message")


def _crypto(keys: str | None, acb: str | None):
    """A GbcsCrypto over the key store; the ACB is C{--acb}, else the store's one role-4 (ACB)
    KA certificate, else the test PKI's ACB."""
    if not keys:
        return None
    from protocols.gbcs.crypto import DEFAULT_ACB_EUI, GbcsCrypto
    from protocols.gbcs.keystore import KeyStore, parse_eui
    store = KeyStore(keys)
    if acb:
        acb_eui = parse_eui(acb)
    else:
        found = store.euis_with_role(4, "ka")
        acb_eui = found[0] if len(found) == 1 else DEFAULT_ACB_EUI
    return GbcsCrypto(store, acb_eui)


def _typed_scalar(v: Any) -> str | None:
    """C{{"type": T, "value": scalar}} (a DLMS/ZCL datum) printed on one line as C{T = value}."""
    if isinstance(v, dict) and set(v) == {"type", "value"} and not isinstance(v["value"], (dict, list)):
        return f"{v['type']} = {_scalar(v['value'])}"
    return None


def _print_tree(value: Any, indent: int = 0, out=None) -> None:
    out = out or sys.stdout
    pad = "  " * indent
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        print(f"{pad}{_scalar(value)}", file=out)
        return
    for k, v in items:
        line = _typed_scalar(v)
        if line is not None:
            print(f"{pad}{k}: {line}", file=out)
        elif isinstance(v, (dict, list)) and v:
            print(f"{pad}{k}:", file=out)
            _print_tree(v, indent + 1, out)
        else:
            print(f"{pad}{k}: {_scalar(v)}", file=out)


def _scalar(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, (dict, list)):
        return "{}" if isinstance(v, dict) else "[]"
    return str(v)


def _print_readable(tree: dict) -> None:
    uc = tree.get("use_case") or "?"
    print(f"{tree['message_code_hex']} {uc} {tree.get('use_case_title') or ''}".rstrip())
    print(f"  {tree['cra'].upper()} counter {tree['originator_counter']} "
          f"from {tree['originator']} to {tree['recipient']}")
    crit = tree.get("criticality")
    if crit:
        print(f"  criticality: {crit}" + (f", DUIS SRV {tree['service_reference']}"
                                          if tree.get("service_reference") else ""))
    wrapper = "General-Ciphering (DD) + General-Signing (DF)" if tree.get("general_ciphering") else \
        "General-Signing (DF) only"
    print(f"  framing: {wrapper}")
    mac = tree["mac"] + (f" ({tree['mac_detail']})" if tree.get("mac_detail") else "")
    sig = tree["signature"] + (f" ({tree['signature_detail']})" if tree.get("signature_detail") else "")
    print(f"  mac: {mac}")
    print(f"  signature: {sig} [{tree['signature_field']['form']}]")
    if tree.get("date_time"):
        print(f"  date_time: {tree['date_time'].get('text', tree['date_time']['hex'])}")
    oi = {k: v for k, v in tree["other_information"].items() if v is not None}
    if oi:
        print("  other_information:")
        _print_tree(oi, 2)
    if tree.get("payload_opaque"):
        detail = tree.get("payload_opaque_detail")
        print(f"  not decoded: {', '.join(tree['payload_opaque'])}" + (f" ({detail})" if detail else ""))
    if "payload" in tree:
        print("  payload:")
        _print_tree(tree["payload"], 2)
    else:
        print(f"  content: {tree.get('content')}")


def _error(e: CodecError) -> int:
    print(f"error: {e.field} at offset {e.offset}: {e.reason}", file=sys.stderr)
    return 1


def _cmd_decode(args: argparse.Namespace) -> int:
    from protocols.gbcs.message import decode_message, message_to_tree
    try:
        data = read_message(args.message)
        msg = decode_message(data, _crypto(args.keys, args.acb), decode_payload=not args.no_payload)
    except CodecError as e:
        return _error(e)
    tree = message_to_tree(msg)
    if args.json:
        json.dump(tree, sys.stdout, indent=2)
        print()
    else:
        _print_readable(tree)
    return 0


def _cmd_encode(args: argparse.Namespace) -> int:
    from protocols.gbcs.message import encode_message
    try:
        text = sys.stdin.read() if args.jsonfile == "-" else Path(args.jsonfile).read_text()
    except OSError as e:
        print(f"error: input at offset 0: {e}", file=sys.stderr)
        return 1
    try:
        tree = json.loads(text)
    except json.JSONDecodeError as e:
        print(f"error: json at offset {e.pos}: {e.msg}", file=sys.stderr)
        return 1
    try:
        data = encode_message(tree, _crypto(args.keys, args.acb), resign=args.resign)
    except CodecError as e:
        return _error(e)
    print(data.hex().upper())
    return 0


def _cmd_conformance(args: argparse.Namespace) -> int:
    from protocols.gbcs.message import ConformanceResult, check_conformance
    root = Path(args.directory)
    if not root.is_dir():
        print(f"error: {root} is not a directory", file=sys.stderr)
        return 2
    crypto = _crypto(args.keys, args.acb)
    files = sorted(p for p in root.rglob("*") if p.suffix.upper() == ".HEX" and p.is_file())
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    start = time.perf_counter()
    for path in files:
        name = str(path.relative_to(root))
        try:
            data = read_message(str(path))
        except CodecError as e:
            result = ConformanceResult("failed", e.field, e.offset, e.reason)
        else:
            result = check_conformance(data, crypto)
        counts[result.status] += 1
        if result.status != "passed" or args.verbose:
            print(result.line(name))
    if args.verbose:
        print(f"# {len(files)} files in {time.perf_counter() - start:.2f} s", file=sys.stderr)
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 0 if counts["failed"] == 0 else 1


def _cmd_utrn(args: argparse.Namespace) -> int:
    from protocols.gbcs.keystore import parse_eui
    from protocols.gbcs.utrn import generate_utrn
    crypto = _crypto(args.keys, args.acb)
    try:
        utrn = generate_utrn(crypto, parse_eui(args.supplier), parse_eui(args.device), int(args.counter, 0),
                             0 if args.pennies else 1, args.value)
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 1
    except CodecError as e:
        return _error(e)
    print(utrn)
    return 0


@functools.cache
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="smets gbcs", description="Decode, encode and check GBCS messages.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("decode", help="decode one message (file, hex or base64)")
    d.add_argument("message", help="file path, or the message as hex / base64")
    d.add_argument("--keys", help="key store directory (RTDS layout)")
    d.add_argument("--json", action="store_true", help="print the JSON tree")
    d.add_argument("--no-payload", action="store_true", help="framing and protections only")
    d.set_defaults(func=_cmd_decode)
    e = sub.add_parser("encode", help="encode a JSON message tree to hex")
    e.add_argument("jsonfile", help="JSON file from 'decode --json' ('-' for stdin)")
    e.add_argument("--keys", help="key store directory: recompute the MAC, sign when asked")
    e.add_argument("--resign", action="store_true", help="re-sign ECDSA signatures with the originator's key")
    e.set_defaults(func=_cmd_encode)
    c = sub.add_parser("conformance", help="check every *.HEX below a directory")
    c.add_argument("directory")
    c.add_argument("--keys", required=True, help="key store directory")
    c.add_argument("-v", "--verbose", action="store_true", help="also list passed files and timing")
    c.set_defaults(func=_cmd_conformance)
    u = sub.add_parser("utrn", help="make a prepayment top-up UTRN")
    u.add_argument("--keys", required=True)
    u.add_argument("--supplier", required=True, help="supplier EUI-64 (uses its pp-ka key)")
    u.add_argument("--device", required=True, help="meter EUI-64")
    u.add_argument("--counter", required=True, help="64-bit UTRN counter (e.g. 0x300000000)")
    u.add_argument("--value", required=True, type=int, help="0..8191")
    u.add_argument("--pennies", action="store_true", help="value is in pennies (default pounds)")
    u.set_defaults(func=_cmd_utrn)
    for sp in (d, e, c, u):
        sp.add_argument("--acb", default=None,
                        help="Access Control Broker EUI-64 whose KA key MACs commands "
                             "(default: the key store's ACB certificate, role 04)")
    return p


def main(argv: list[str]) -> int:
    """Entry point used by C{smets gbcs ...}; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        return args.func(args)
    except BrokenPipeError:          # e.g. piped into head: not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
