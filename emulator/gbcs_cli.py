"""C{smets gbcs}: decode, encode and check GBCS messages against the DCC reference test data.

Sub-commands (GBCS framing/crypto/payloads per C{spec/gbcs-wire-format.md}):

  - C{decode FILE|HEX [--keys DIR] [--json] [--acb EUI]}: Parse-and-Correlate-style decode of
    one message given as a file (hex, base64 or raw bytes) or as a hex/base64 string: header
    fields, use case, MAC and signature status, then the payload tree.
  - C{encode JSONFILE [--keys DIR] [--resign]}: the exact bytes (hex) of a decoded message
    tree (C{-} reads standard input).  With keys the MAC is recomputed; the signature is kept
    as given unless the tree asks for one (C{signature_field.value} null or C{"sign"}) or
    C{--resign} is passed (see L{protocols.gbcs.message}).
  - C{conformance DIR --keys DIR [--allow-skips]}: check every C{*.HEX} below DIR (parse,
    verify, decrypt, decode completely, rebuild byte for byte); one line per failure (and per
    skip), then C{N passed, M failed, K skipped}.  Exit status 0 only without failures, and
    (unless C{--allow-skips}) with no more skipped than passed.
  - C{utrn --keys DIR --supplier EUI --device EUI --counter N --value V [--pennies]}: make a UTRN.

Exit status (L{emulator.cli_errors}): 2 and one line C{smets gbcs: error: <option or field>: why}
for a mistake on the command line or in the JSON (a JSON field is named by its path, without a
byte offset); 1 for a message that does not decode (C{<field> at offset N: reason}), whose MAC
or signature does not verify (the line says which), or a conformance run that did not pass.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from emulator.cli_errors import (EXIT_FAILURE, UsageError, check_directory, check_input_file, check_int, report,
                                 run_command, show_value)
from protocols.errors import CodecError

__all__ = ["main", "read_message"]

PROG = "smets gbcs"


def read_message(arg: str, option: str = "MESSAGE") -> bytes:
    """Message bytes from a file path or a literal: hex first, then base64 (spec section 7).

    A path that does not exist, a file that is empty or not a regular file, an odd number of
    hex digits and text that is neither hex nor base64 each raise their own L{UsageError}.
    """
    path = Path(arg)
    text: str | None
    try:
        exists = len(arg) < 4096 and path.exists()
    except OSError:          # e.g. a long hex string is not a valid file name
        exists = False
    if exists:
        if path.is_dir():
            raise UsageError(option, f"{arg} is a directory, not a message file")
        if not path.is_file():
            raise UsageError(option, f"{arg} is not a regular file (a device or a pipe?)")
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise UsageError(option, f"cannot read {arg}: {e.strerror or e}") from None
        if not raw:
            raise UsageError(option, f"{arg} is empty")
        if raw[:1] in (b"\xdd", b"\xdf"):
            return raw
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            return raw
        where = f"{arg} holds "
    else:
        text = arg
        if "." in arg:
            # neither hex nor base64 has a dot: it names a file, so say so rather than "not hex"
            raise UsageError(option, f"no such file: {arg}")
        where = ""
    compact = "".join(text.split())
    if not compact:
        raise UsageError(option, f"{arg} holds only white space" if exists else "is empty")
    data: bytes | None = None
    try:
        data = bytes.fromhex(compact)
    except ValueError:
        pass
    if data is not None and data[:1] in (b"\xdd", b"\xdf"):
        return data
    try:
        decoded = base64.b64decode(compact, validate=True)
        if decoded[:1] in (b"\xdd", b"\xdf"):
            return decoded
    except (binascii.Error, ValueError):
        pass
    if data is not None:
        return data  # hex but not a GBCS tag: let the decoder name the problem
    if not exists and ("/" in arg or os.sep in arg):
        raise UsageError(option, f"no such file: {arg}")
    if _HEX_DIGITS.fullmatch(compact):
        raise UsageError(option, f"{where}an odd number of hex digits ({len(compact)}): a digit is missing")
    raise UsageError(option, f"{where}neither hex nor base64 of a GBCS message")


_HEX_DIGITS = re.compile(r"[0-9A-Fa-f]+")


def _eui_option(option: str, text: str) -> int:
    """An EUI-64 given on the command line (16 hex digits, separators allowed)."""
    from protocols.gbcs.keystore import parse_eui
    try:
        return parse_eui(text)
    except ValueError:
        raise UsageError(option, f"must be an EUI-64 of 16 hex digits, got {show_value(text)}") from None


def _crypto(keys: str | None, acb: str | None):
    """A GbcsCrypto over the key store; the ACB is C{--acb}, else the store's one role-4 (ACB)
    KA certificate, else the test PKI's ACB."""
    acb_eui = _eui_option("--acb", acb) if acb else None
    if not keys:
        return None
    from protocols.gbcs.crypto import DEFAULT_ACB_EUI, GbcsCrypto
    from protocols.gbcs.keystore import KeyStore
    check_directory("--keys", keys)
    try:
        store = KeyStore(keys)
    except OSError as e:
        raise UsageError("--keys", f"cannot read key store {keys}: {e.strerror or e}") from None
    if not store.entries():
        raise UsageError("--keys", f"no certificates or keys in {keys} (expected <eui>-<usage>.pem / .key files)")
    for eui, usage in store.entries():      # load every key now: a damaged file is named before anything runs
        try:
            if store.has_private_key(eui, usage):
                store.private_key(eui, usage)
            store.public_key(eui, usage)
        except (ValueError, TypeError, OSError) as e:
            reason = (getattr(e, "strerror", None) or str(e)).split(". See ")[0]
            raise UsageError("--keys", f"cannot load the {usage} key of {eui:016X} in {keys}: {reason}") from None
    if acb_eui is None:
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


def _message_error(e: CodecError) -> int:
    """A message that does not decode: its field and byte offset (exit status 1)."""
    report(PROG, f"{e.field} at offset {e.offset}: {e.reason}")
    return EXIT_FAILURE


def _cmd_decode(args: argparse.Namespace) -> int:
    from protocols.gbcs.message import decode_message, message_to_tree
    data = read_message(args.message)
    crypto = _crypto(args.keys, args.acb)
    try:
        msg = decode_message(data, crypto, decode_payload=not args.no_payload)
    except CodecError as e:
        return _message_error(e)
    tree = message_to_tree(msg)
    if args.json:
        json.dump(tree, sys.stdout, indent=2)
        print()
    else:
        _print_readable(tree)
    failed = [(name, tree.get(f"{key}_detail") or "does not verify")
              for name, key in (("MAC", "mac"), ("signature", "signature")) if tree.get(key) == "failed"]
    if failed:
        report(PROG, "; ".join(f"{name} verification failed ({detail})" for name, detail in failed))
        return EXIT_FAILURE
    return 0


#: fields of a decoded tree that report on the message (verification results) and are not encoded
_REPORT_ONLY = {"mac", "signature", "mac_detail", "signature_detail", "payload_opaque", "payload_opaque_detail"}


def _ignored_fields(given: Any, made: Any, path: str, out: list[str],
                    hint: str = "unknown field (the encoder would ignore it)") -> None:
    """Paths of C{given} (the JSON to encode) that the encoded message does not carry as given.

    C{made} is the tree decoded back from the bytes the encoder produced: a key it lacks was
    not used, a value that differs was not honoured (derived from another field, or ignored).
    """
    if isinstance(given, dict):
        if not isinstance(made, dict):
            out.append(f"{path or 'message'}: must be a JSON object, as the decoder gives")
            return
        for key, value in given.items():
            sub = f"{path}.{key}" if path else str(key)
            if not path and key in _REPORT_ONLY:
                continue
            if key not in made:
                out.append(f"{sub}: {hint}")
                continue
            _ignored_fields(value, made[key], sub, out, hint)
    elif isinstance(given, list):
        if not isinstance(made, list):
            out.append(f"{path}: must not be a list (the decoder gives {show_value(made)})")
            return
        if len(made) != len(given):
            out.append(f"{path}: {len(given)} entries given, {len(made)} encoded (the rest is ignored)")
            return
        for i, (a, b) in enumerate(zip(given, made)):
            _ignored_fields(a, b, f"{path}[{i}]", out, hint)
    elif isinstance(made, (dict, list)):
        out.append(f"{path}: must be a JSON {'object' if isinstance(made, dict) else 'list'}, as the decoder gives")
    elif not _same_scalar(given, made):
        out.append(f"{path}: {show_value(given)} is not what the encoder uses (the message would say "
                   f"{show_value(made)}; change the field it is derived from, or remove it)")


def _same_scalar(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.upper() == b.upper()          # hex is case-insensitive
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def _cmd_encode(args: argparse.Namespace) -> int:
    from protocols.gbcs.message import decode_message, encode_message, message_to_tree
    source = "JSONFILE (standard input)" if args.jsonfile == "-" else args.jsonfile
    if args.jsonfile == "-":
        text = sys.stdin.read()
    else:
        path = check_input_file("JSONFILE", args.jsonfile)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError("JSONFILE", f"cannot read {args.jsonfile}: {getattr(e, 'strerror', None) or e}") \
                from None
    try:
        tree = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(source, f"not JSON: line {e.lineno} column {e.colno}: {e.msg}") from None
    if not isinstance(tree, dict):
        raise UsageError(source, "must hold a JSON object (the output of 'smets gbcs decode --json')")
    crypto = _crypto(args.keys, args.acb)
    try:
        data = encode_message(tree, crypto, resign=args.resign)
    except CodecError as e:
        raise UsageError(e.field, e.reason) from None
    # every field given must be one the encoder honoured: decode the bytes back and compare
    try:
        made = message_to_tree(decode_message(data, crypto, decode_payload="payload" in tree))
    except CodecError as e:
        raise UsageError(e.field, f"encodes to bytes that do not decode again: {e.reason}") from None
    recomputed = {"general_ciphering.mac"} if _get_path(tree, "general_ciphering", "mac") in (None, "compute") \
        or crypto is not None else set()
    if args.resign or _get_path(tree, "signature_field", "value") in (None, "sign"):
        recomputed.add("signature_field.value")
    problems: list[str] = []
    _ignored_fields(tree, made, "", problems,
                    "unknown field (the encoder would ignore it)" if crypto is not None else
                    "not encoded: an unknown field, or one that needs --keys (a decrypted part); remove it")
    problems = [p for p in problems if p.split(":", 1)[0] not in recomputed]
    if problems:
        extra = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UsageError("", problems[0] + extra)
    print(data.hex().upper())
    return 0


def _get_path(tree: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(key)
    return tree


def _cmd_conformance(args: argparse.Namespace) -> int:
    from protocols.gbcs.message import check_conformance
    root = check_directory("DIRECTORY", args.directory)
    crypto = _crypto(args.keys, args.acb)
    files = sorted(p for p in root.rglob("*") if p.suffix.upper() == ".HEX" and p.is_file())
    if not files:
        raise UsageError("DIRECTORY", f"no *.HEX files below {args.directory}: nothing to check")
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    start = time.perf_counter()
    for path in files:
        name = str(path.relative_to(root))
        try:
            data = read_message(str(path))
        except UsageError as e:     # not a message file at all: there is no byte offset to give
            counts["failed"] += 1
            print(f"{name}: {e.reason}")
            continue
        result = check_conformance(data, crypto)
        counts[result.status] += 1
        if result.status != "passed" or args.verbose:
            print(result.line(name))
    if args.verbose:
        print(f"# {len(files)} files in {time.perf_counter() - start:.2f} s", file=sys.stderr)
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    if counts["failed"]:
        report(PROG, f"conformance: {counts['failed']} of {len(files)} files failed")
        return EXIT_FAILURE
    if counts["skipped"] > counts["passed"] and not args.allow_skips:
        report(PROG, f"conformance: more files skipped ({counts['skipped']}) than passed ({counts['passed']}); "
                     "wrong --keys? (--allow-skips accepts this)")
        return EXIT_FAILURE
    return 0


def _cmd_utrn(args: argparse.Namespace) -> int:
    from protocols.gbcs.utrn import generate_utrn
    supplier = _eui_option("--supplier", args.supplier)
    device = _eui_option("--device", args.device)
    counter = check_int("--counter", args.counter, lo=0, hi=(1 << 64) - 1, base=0)
    value = check_int("--value", args.value, lo=0, hi=8191)
    crypto = _crypto(args.keys, args.acb)
    try:
        utrn = generate_utrn(crypto, supplier, device, counter, 0 if args.pennies else 1, value)
    except KeyError as e:
        raise UsageError("--keys", str(e.args[0])) from None
    except CodecError as e:
        option = {"utrn.value": "--value", "utrn.counter": "--counter"}.get(e.field, e.field)
        raise UsageError(option, e.reason) from None
    print(utrn)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one error line (and exit status 2) instead of usage + error."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(self.prog.replace(PROG, "").strip(), message)


@functools.cache
def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Decode, encode and check GBCS messages.")
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
    c.add_argument("--allow-skips", action="store_true",
                   help="exit 0 even when more files were skipped (no key) than passed")
    c.set_defaults(func=_cmd_conformance)
    u = sub.add_parser("utrn", help="make a prepayment top-up UTRN")
    u.add_argument("--keys", required=True)
    u.add_argument("--supplier", required=True, help="supplier EUI-64 (uses its pp-ka key)")
    u.add_argument("--device", required=True, help="meter EUI-64")
    u.add_argument("--counter", required=True, help="64-bit UTRN counter (e.g. 0x300000000)")
    u.add_argument("--value", required=True, help="0..8191")
    u.add_argument("--pennies", action="store_true", help="value is in pennies (default pounds)")
    u.set_defaults(func=_cmd_utrn)
    for sp in (d, e, c, u):
        sp.add_argument("--acb", default=None,
                        help="Access Control Broker EUI-64 whose KA key MACs commands "
                             "(default: the key store's ACB certificate, role 04)")
    return p


def _main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return args.func(args)


def main(argv: list[str]) -> int:
    """Entry point used by C{smets gbcs ...}; returns the exit status."""
    try:
        return run_command(PROG, _main, argv)
    except SystemExit as e:          # --help of a sub-command
        return int(e.code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
