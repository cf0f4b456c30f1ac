"""The transform against DCC's own: DUIS templates vs the RTDS commands and pre-commands.

For every DUIS template in duis-templates whose use case the transform builds, the GBCS
command (or pre-command) must match the RTDS one: message code, originator, recipient,
supplementary remote party and payload byte for byte.  Counters, MAC and signature are put
aside: the user's counter comes from the RequestID (RTDS uses the same), the ACB's own
counter (ACB-originated use cases) is taken from the RTDS file so that the payload, whose
invoke id and protection transaction id carry the counter, can be compared exactly.  Our MAC
must verify with the RTDS keys.  Templates the transform does not build must fail with the
"unsupported" error, and are listed here so coverage stays visible.
"""

from __future__ import annotations

import base64
import random
import re

import pytest

from protocols.acb import UNSUPPORTED, RequestError, Transformer
from protocols.acb.request import Body
from protocols.acb.usecases import SERVICES, USE_CASES
from protocols.gbcs import GbcsCrypto, KeyStore, decode_frame, decode_message, sign_precommand

from .acb_helpers import (KEYSTORE, TEMPLATES, FixedClock, need_shared, read_hex, request_from_template,
                          rtds_command, template_use_case)

#: Use cases of duis-templates the transform does not build yet (GBZ payloads, ASN.1
#: security credentials / joins, tariffs and the remaining DLMS writes).
UNSUPPORTED_USE_CASES = {
    "CCS03", "CS02bNOByNOHandover", "CS02bSupplierBySupplier", "CS02bSupplierByTransCoS",
    "CS02gLoadControllerBySupplier", "CS03A1", "CS03A2Critical",
    "CS03A2NonCritical", "CS03B", "CS03CCritical", "CS03CNonCritical",
    "ECS25a1", "ECS25a2", "ECS25a3", "ECS25b",
    "ECS25b3",
}


#: Use cases whose command carries a value the DCC makes up: the Customer Identification
#: Number (4 ASCII digits from the DCC's randomness; RTDS used "1234").
DCC_CHOSEN_CIN = {"ECS50", "GCS36"}

#: Templates whose ReadLogPeriod is not the one RTDS made its command from (GCS15c: the RTDS
#: command reads 2015-01-01T00:00:01Z to 2016-01-01T00:00:01Z, the template 2014-12-01 to
#: 2015-11-01): the period's time fields are compared as decoded values, all else byte for byte.
#: GCS61: the RTDS command reads 731 daily samples from 2014-12-22, the template asks for
#: 2014-12-10 to 2014-12-20.
#: GCS09: the RTDS command implements the change of tenancy at 2016-11-22T02:46:56Z, the
#: template restricts data from 2015-02-01.
TEMPLATE_PERIOD_DIFFERS = {"GCS15c": ("EarliestStartTime", "LatestEndTime"),
                           "GCS61": ("EarliestSampleTime", "NumberofSamples"),
                           "GCS09": ("ImplementationDateTime",)}

#: Commands whose components may come in any order: GCS20's Set Event Configuration components
#: (one per distinct configuration; RTDS's order is not the request's) are compared as a multiset.
COMPONENT_ORDER_FREE = {"GCS20"}

#: Templates whose RequestID names a different business originator from the RTDS command:
#: the CS08 template is sent by the ACB itself, the RTDS CS08 command on behalf of supplier 1.
TEMPLATE_ORIGINATOR_DIFFERS = {"CS08"}


@pytest.fixture(scope="module")
def crypto() -> GbcsCrypto:
    return GbcsCrypto(KeyStore(need_shared(KEYSTORE)))


def _device_templates() -> list:
    if not TEMPLATES.exists():
        return [pytest.param(None, id="templates-missing")]
    out = []
    for p in sorted(TEMPLATES.glob("*.XML")):
        if template_use_case(p) is not None and rtds_command(p) is not None:
            out.append(pytest.param(p, id=p.name.replace("_REQUEST_DUIS.XML", "")))
    return out


def _inventory_choice(path) -> str | None:
    """The use case the inventory would name when a variant has several forms on the device.

    DCC picks ECS26d or ECS26l (billing calendar periodicities), ECS23 or ECS23b (single or
    poly phase), ... from the device's model in the inventory; the RTDS device models are
    not in shared/, so the template's use case stands for that inventory fact.
    """
    req = request_from_template(path)
    entry = SERVICES.get(req.service_reference_variant)
    if entry is None:
        return None
    table = entry(Body(req.body)) if callable(entry) else entry
    names = table.get(req.device_type, ())
    uc, _srv, rest = template_use_case(path)
    if "TWIN" in rest.split("_") and f"{uc}Twin" in names:
        return f"{uc}Twin"          # the inventory knows the ESME is a twin-element meter
    return uc if len(names) > 1 and uc in names else None


@pytest.mark.parametrize("template", _device_templates())
def test_template_matches_rtds(template, crypto):
    need_shared(TEMPLATES)
    uc = template_use_case(template)[0]
    rtds_file = rtds_command(template)
    ref = decode_message(read_hex(rtds_file), crypto)
    ref_gs = ref.frame.signing
    transformer = Transformer(crypto, FixedClock(), acb_counter=lambda: ref_gs.originator_counter)
    request = request_from_template(template, _inventory_choice(template))
    if uc in UNSUPPORTED_USE_CASES:
        with pytest.raises(RequestError) as e:
            transformer.transform(request)
        assert e.value.code == UNSUPPORTED, str(e.value)
        return
    result = transformer.transform(request)
    assert result.use_case == uc or result.use_case == f"{uc}Twin"
    made = result.precommand if result.critical else result.command
    frame = decode_frame(made)
    gs = frame.signing
    assert gs.message_code == ref_gs.message_code
    assert gs.originator == ref_gs.originator
    assert gs.recipient == ref_gs.recipient
    assert gs.originator_counter == ref_gs.originator_counter
    assert gs.date_time == ref_gs.date_time
    oi, ref_oi = gs.other_information, ref_gs.other_information
    assert (oi.message_code, oi.supplementary_remote_party_counter) == \
        (ref_oi.message_code, ref_oi.supplementary_remote_party_counter)
    if uc in TEMPLATE_ORIGINATOR_DIFFERS:
        assert oi.supplementary_remote_party_id == request.originator != ref_oi.supplementary_remote_party_id
    else:
        assert oi.supplementary_remote_party_id == ref_oi.supplementary_remote_party_id
    if ref_oi.supplementary_remote_party_ka_certificate is not None:
        # URP reads carry the user's KA certificate from the request (the template's certificate
        # is a newer issue of the user's key than the one RTDS used)
        cert = Body(request.body).require("KAPublicSecurityCredentials").text
        assert oi.supplementary_remote_party_ka_certificate == base64.b64decode(cert)
    else:
        assert oi.supplementary_remote_party_ka_certificate is None
    content = gs.content
    if uc in DCC_CHOSEN_CIN:
        cin = re.search(rb"\x04(\d{4})$", content)
        assert cin, "the command must end with a 4-digit CIN"
        content = content[:cin.start(1)] + ref_gs.content[cin.start(1):]
    if uc in COMPONENT_ORDER_FREE:
        ours, ref = (_components(decode_message(m, crypto).payload)
                     for m in (command_of(result, transformer, crypto), read_hex(rtds_file)))
        assert sorted(ours) == sorted(ref) and len(ours) == len(ref) > 1
    elif uc in TEMPLATE_PERIOD_DIFFERS:
        content, ref_content = (_without(decode_message(m, crypto).payload, TEMPLATE_PERIOD_DIFFERS[uc])
                                for m in (command_of(result, transformer, crypto), read_hex(rtds_file)))
        assert content == ref_content
    else:
        assert content == ref_gs.content, f"payload differs:\n ours {gs.content.hex()}\n rtds {ref_gs.content.hex()}"
    acb_signed = USE_CASES[result.use_case].acb_signed
    assert (result.critical or acb_signed) == bool(ref_gs.signature)
    if acb_signed:
        assert not result.critical and len(gs.signature) == 64     # the ACB's own, checked below
        command = made
    elif result.critical:
        pre = rtds_file.with_name(rtds_file.name.replace("_COMMAND_", "_PRECOMMAND_"))
        assert made == read_hex(pre), "pre-command differs from the RTDS PRECOMMAND"
        assert gs.signature is None
        command = transformer.complete(result, sign_precommand(made, crypto))
    else:
        assert gs.signature == b""
        command = made
    check = decode_message(command, crypto)
    assert check.verification.mac == "verified"
    if result.critical or acb_signed:
        assert check.verification.signature == "verified"
    # the command is the RTDS command but for MAC and signature (and a DCC-chosen CIN)
    assert check.frame.signing.content == gs.content


def command_of(result, transformer, crypto) -> bytes:
    """The command a result becomes (a critical one signed as the user would)."""
    if result.critical:
        return transformer.complete(result, sign_precommand(result.precommand, crypto))
    return result.command


def _components(payload) -> list[str]:
    """The ZCL frames of a GBZ payload (cluster, command, payload), as comparable text."""
    return [repr((c["cluster_id"], c["zcl"]["frame_control"], c["zcl"]["command_id"], c["zcl"]["payload"]))
            for c in payload["components"]]


def _without(payload, fields: tuple[str, ...]):
    """A decoded payload with the named fields dropped wherever they occur."""
    if isinstance(payload, dict):
        return {k: _without(v, fields) for k, v in payload.items() if k not in fields}
    if isinstance(payload, list):
        return [_without(v, fields) for v in payload]
    return payload


def test_unsupported_list_is_current():
    """Every listed unsupported use case has a template; the list shrinks as support grows."""
    need_shared(TEMPLATES)
    names = {template_use_case(p)[0] for p in TEMPLATES.glob("*.XML")
             if template_use_case(p) and rtds_command(p) is not None}
    assert UNSUPPORTED_USE_CASES <= names
    supported = sorted(names - UNSUPPORTED_USE_CASES)
    print(f"\ntransform coverage: {len(supported)} of {len(names)} template use cases with an RTDS command")
    print("unsupported:", " ".join(sorted(UNSUPPORTED_USE_CASES)))
    assert len(supported) >= 137


def test_every_template_transforms_or_gives_a_request_error(crypto):
    """All templates, device or not, with or without RTDS files: a command or a RequestError."""
    need_shared(TEMPLATES)
    transformer = Transformer(crypto, FixedClock())
    outcomes: dict[str, int] = {}
    for path in sorted(TEMPLATES.glob("*.XML")):
        try:
            r = transformer.transform(request_from_template(path))
        except RequestError as e:
            outcomes[e.code] = outcomes.get(e.code, 0) + 1
            assert e.reason
            continue
        made = r.precommand if r.critical else r.command
        assert decode_frame(made).signing.message_code == r.message_code
        outcomes["built"] = outcomes.get("built", 0) + 1
    assert outcomes["built"] >= 183
    print("\nall templates:", outcomes)


def test_same_inputs_give_byte_identical_commands(crypto):
    """Determinism: a fresh transformer on the same clock, counters and seed repeats every byte."""
    need_shared(TEMPLATES)

    def run() -> list[bytes]:
        counter = iter(range(5000, 10**6))
        t = Transformer(GbcsCrypto(KeyStore(KEYSTORE)), FixedClock(), acb_counter=lambda: next(counter),
                        rng=random.Random(7))
        out = []
        for path in sorted(TEMPLATES.glob("*.XML")):
            try:
                r = t.transform(request_from_template(path))
            except RequestError:
                continue
            out.append(r.precommand or r.command)
        return out

    first = run()
    assert first and first == run()
