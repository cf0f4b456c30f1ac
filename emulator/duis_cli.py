"""C{smets duis}: the DCC User's command-line client of the DUIS interface.

  - C{send FILE --url URL [--wait] [--timeout S]}: POST a DUIS request to the DCC and print
    the synchronous answer (the acknowledgement, or the pre-command of a critical request).
    URL is the DCC's base URL (C{http://127.0.0.1:8079}: the interface is chosen from the
    request, serviceT for critical, serviceD for non-device, else serviceS) or a full
    C{.../api/v1/serviceX} URL.  With C{--wait} it then polls for the asynchronous response
    and prints it.  Exit 0 when the DCC accepted the request (I99 / I0), 1 on a DUIS error code.
  - C{sign FILE --keys DIR [--out FILE] [--command-variant N]}: sign as the DCC User would.
    A DUIS C{sr:Request} gets the User's XML signature (the User is the RequestID's
    originator; its C{<eui>-ds.key} from DIR).  A DUIS C{sr:PreCommand} (from serviceT)
    becomes a C{sr:SignedPreCommand}: the GBCS pre-command signed with the User's DS key,
    wrapped and XML-signed.  A bare GBCS pre-command (hex) is printed signed (hex).
  - C{transform ...}: the ACB's transform of a request to GBCS (L{emulator.acb_cli}).

User mistakes (bad option, unreadable file, unusable URL) print one line naming the option
and exit 2.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from emulator.cli_errors import EXIT_USAGE, report

__all__ = ["main"]


class _UsageError(Exception):
    """A user mistake: C{"<option or FILE>: <why>"}, reported as C{<prog>: error: <that>}, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        raise _UsageError(message)


def _read(path: str, option: str = "FILE") -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise _UsageError(f"{option} {path}: {e.strerror or e}") from None


# ------------------------------------------------------------------ send

def _endpoint(url: str, data: bytes) -> str:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise _UsageError(f"--url {url!r}: not an http(s) URL")
    url = url.rstrip("/")
    if parsed.path.rstrip("/").split("/")[-1] in ("serviceS", "serviceT", "serviceD"):
        return url
    from protocols.duis.errors import DuisError
    from protocols.duis.request import parse_request
    letter = "S"
    try:
        req = parse_request(data)
        if req.definition is not None:
            letter = "D" if req.definition.non_device else "T" if req.definition.critical else "S"
    except DuisError:
        pass  # the DCC says what is wrong with it
    return url + f"/api/v1/service{letter}"


def _http(url: str, data: bytes | None, timeout: float) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                 headers={"Content-Type": "application/xml"})
    # straight to the DCC: an http_proxy of the environment is not for the emulator's loopback
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise _UsageError(f"--url {url}: cannot reach the DCC: {reason}") from None


def _code(body: bytes) -> str:
    from protocols.duis.response import parse_response
    try:
        return parse_response(body).response_code
    except ValueError:
        return ""


def _cmd_send(args: argparse.Namespace) -> int:
    data = _read(args.file)
    if args.timeout <= 0:
        raise _UsageError(f"--timeout: must be positive, got {args.timeout}")
    url = _endpoint(args.url, data)
    status, body = _http(url, data, args.timeout)
    sys.stdout.write(body.decode("utf-8", "replace").rstrip("\n") + "\n")
    code = _code(body)
    if not code:
        print(f"smets duis send: the DCC answered HTTP {status} without a DUIS response", file=sys.stderr)
        return 1
    if code.startswith("E"):
        return 1
    if not args.wait or code not in ("I99", "I98"):
        return 0
    if code == "I98":
        print("smets duis send: the request is quarantined (anomaly detection): waiting for its release or "
              "rejection", file=sys.stderr)
    from protocols.duis.response import parse_response
    request_id = parse_response(body).request_id or ""
    base = url.rsplit("/", 1)[0]
    poll = f"{base}/response?{urllib.parse.urlencode({'RequestID': request_id})}"
    deadline = time.monotonic() + args.timeout
    while True:
        status, reply = _http(poll, None, args.timeout)
        if status == 200:
            sys.stdout.write(reply.decode("utf-8", "replace").rstrip("\n") + "\n")
            return 0 if _code(reply) == "I0" else 1
        if status != 204:
            print(f"smets duis send: polling {poll} answered HTTP {status}", file=sys.stderr)
            return 1
        if time.monotonic() >= deadline:
            print(f"smets duis send: no response to {request_id} within --timeout {args.timeout:g} s",
                  file=sys.stderr)
            return 1
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


# ------------------------------------------------------------------ sign

def _user_key(keystore, eui: int, what: str):
    key = keystore.private_key(eui, "ds")
    if key is None:
        raise _UsageError(f"--keys {keystore.directory}: no {eui:016x}-ds.key for {what}")
    return key, keystore.certificate(eui, "ds")


def _xml_out(root) -> bytes:
    from lxml import etree
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


def _sign_precommand_bytes(pre: bytes, keystore) -> bytes:
    from protocols.gbcs.crypto import GbcsCrypto
    from protocols.gbcs.framing import decode_frame
    from protocols.gbcs.message import sign_precommand
    from protocols.errors import CodecError
    try:
        originator = decode_frame(pre).signing.originator
        _user_key(keystore, originator, "the pre-command's originator")
        return sign_precommand(pre, GbcsCrypto(keystore))
    except CodecError as e:
        raise _UsageError(f"FILE: not a GBCS pre-command: {e}") from None


def _cmd_sign(args: argparse.Namespace) -> int:
    from lxml import etree

    from protocols.duis import xmldsig
    from protocols.duis.request import SR, parse_request_id
    from protocols.duis.response import parse_response
    from protocols.gbcs.keystore import KeyStore

    data = _read(args.file)
    try:
        keystore = KeyStore(args.keys)
    except FileNotFoundError:
        raise _UsageError(f"--keys {args.keys}: not a directory") from None
    if args.command_variant not in (4, 5, 6):
        raise _UsageError(f"--command-variant: must be 4, 5 or 6 (a critical variant), "
                          f"got {args.command_variant}")
    stripped = data.strip()
    if not stripped.startswith(b"<"):
        try:
            pre = binascii.unhexlify(b"".join(stripped.split()))
        except (binascii.Error, ValueError):
            raise _UsageError("FILE: neither DUIS XML nor a hex GBCS pre-command") from None
        out = _sign_precommand_bytes(pre, keystore).hex().upper().encode("ascii") + b"\n"
    else:
        try:
            root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
        except etree.XMLSyntaxError as e:
            raise _UsageError(f"FILE: not well-formed XML: {e.msg}") from None
        local = etree.QName(root).localname
        if local == "PreCommand":
            parsed = parse_response(data)
            if not parsed.gbcs_payload or not parsed.request_id:
                raise _UsageError("FILE: the sr:PreCommand has no GBCSPayload or RequestID")
            signed = _sign_precommand_bytes(parsed.gbcs_payload, keystore)
            root = etree.Element(f"{{{SR}}}SignedPreCommand", nsmap={"sr": SR, "ds": xmldsig.DS},
                                 schemaVersion=root.get("schemaVersion") or "5.1")
            header = etree.SubElement(root, f"{{{SR}}}Header")
            etree.SubElement(header, f"{{{SR}}}RequestID").text = parsed.request_id
            etree.SubElement(header, f"{{{SR}}}CommandVariant").text = str(args.command_variant)
            etree.SubElement(root, f"{{{SR}}}GBCSPayload").text = base64.b64encode(signed).decode("ascii")
            request_id = parsed.request_id
        elif local in ("Request", "SignedPreCommand"):
            request_id = root.findtext(f"{{{SR}}}Header/{{{SR}}}RequestID") or ""
        else:
            raise _UsageError(f"FILE: root element sr:{local} is not a Request or PreCommand")
        try:
            rid = parse_request_id(request_id)
        except ValueError as e:
            raise _UsageError(f"FILE: {getattr(e, 'reason', e)}") from None
        key, cert = _user_key(keystore, rid.originator, "the RequestID's originator")
        xmldsig.sign(root, key, cert)
        out = _xml_out(root) + b"\n"
    if args.out:
        try:
            Path(args.out).write_bytes(out)
        except OSError as e:
            raise _UsageError(f"--out {args.out}: {e.strerror or e}") from None
    else:
        sys.stdout.write(out.decode("utf-8"))
    return 0


# ------------------------------------------------------------------ dispatch

def _cmd_transform(rest: list[str]) -> int:
    try:
        import emulator.acb_cli as acb_cli
    except ImportError:
        report("smets duis transform", "this build has no ACB transform (emulator.acb_cli)")
        return EXIT_USAGE
    return acb_cli.main(rest)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="smets duis", description="Send DUIS service requests to the DCC; sign them as a DCC User.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    s = sub.add_parser("send", help="POST a DUIS request; print the acknowledgement (and with --wait the response)")
    s.add_argument("file", metavar="FILE", help="DUIS request XML (sr:Request or sr:SignedPreCommand)")
    s.add_argument("--url", required=True, help="the DCC's base URL (http://127.0.0.1:8079) or a serviceS|T|D URL")
    s.add_argument("--wait", action="store_true", help="poll for the asynchronous response and print it")
    s.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the DCC (default 30)")
    s.set_defaults(func=_cmd_send)
    g = sub.add_parser("sign", help="sign a DUIS request, or a pre-command, as the DCC User")
    g.add_argument("file", metavar="FILE", help="DUIS Request or PreCommand XML, or a GBCS pre-command in hex")
    g.add_argument("--keys", required=True, help="key store directory with the User's <eui>-ds.key")
    g.add_argument("--out", help="write here instead of standard output")
    g.add_argument("--command-variant", type=int, default=5,
                   help="CommandVariant of a signed pre-command (4-6; default 5, as DCC Boxed's tools send it)")
    g.set_defaults(func=_cmd_sign)
    sub.add_parser("transform", help="print the GBCS command the ACB makes from a request", add_help=False)
    return p


def main(argv: list[str]) -> int:
    """Entry point used by C{smets duis ...}; returns the exit status."""
    if argv and argv[0] == "transform":
        return _cmd_transform(argv[1:])
    prog = "smets duis" + (f" {argv[0]}" if argv and argv[0] in ("send", "sign") else "")
    try:
        args = _parser().parse_args(argv)
        return args.func(args)
    except _UsageError as e:
        report(prog, str(e))
        return EXIT_USAGE
    except SystemExit as e:  # --help
        return int(e.code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
