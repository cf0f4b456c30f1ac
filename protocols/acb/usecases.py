"""From DUIS service reference variants to GBCS use cases and their payloads.

Two spec mappings live here, each declared once:

  - L{SERVICES}: DUIS service reference variant -> the GBCS use case(s) it becomes on each
    device type (DUIS 3.8 / GBCS Table 13.3.2; several use cases for one variant differ by
    device capability, e.g. ECS26d / ECS26l, and the inventory picks with
    L{TransformRequest.use_case}); a few variants choose by a body element (C{LogToRead},
    C{ESMEEventLogType}, C{ReadSecurityDetails}, ...);
  - L{USE_CASES}: GBCS use case -> how its payload is built from the DUIS body, declared by
    the payload families: L{dlms_usecases} (ESME / CHF; reads take their COSEM descriptors from
    the payload catalogue), L{gbz_usecases} (GSME / GPF) and L{asn1_usecases}.

Use cases the DCC originates on the user's behalf (the grouping header originator is the ACB
and the user goes into other-information as supplementary remote party; wire-format notes
1.5) are flagged C{acb_originated}.
"""

from __future__ import annotations

from . import asn1_usecases, dlms_usecases, gbz_usecases
from .context import BuildContext, Builder, UseCaseSpec, catalogue_name
from .request import INVALID, UNSUPPORTED, Body, RequestError, TransformRequest

__all__ = ["BuildContext", "UseCaseSpec", "USE_CASES", "SERVICES", "resolve_use_case", "supported_use_cases",
           "catalogue_name"]


def _specs() -> dict[str, UseCaseSpec]:
    s: dict[str, UseCaseSpec] = {}

    def add(name: str, build: Builder, acb: bool = False, urp: bool = False, acb_own: bool = False,
            acb_signed: bool = False) -> None:
        s[name] = UseCaseSpec(name, build, acb or acb_signed, urp, acb_own, acb_signed)

    dlms_usecases.register(add)
    gbz_usecases.register(add)
    asn1_usecases.register(add)
    return s


#: GBCS use case name -> how its command is built.
USE_CASES: dict[str, UseCaseSpec] = {}


def _use_cases() -> dict[str, UseCaseSpec]:
    if not USE_CASES:
        USE_CASES.update(_specs())
    return USE_CASES


def supported_use_cases() -> list[str]:
    """GBCS use cases the transform builds."""
    return sorted(_use_cases())


def _by_body(choices: dict[str, dict[str, tuple[str, ...]]], element: str | None = None,
             default: dict[str, tuple[str, ...]] | None = None):
    """A variant whose use case depends on a body element's presence or text."""
    def resolve(body: Body) -> dict[str, tuple[str, ...]]:
        if element is None:
            for name, table in choices.items():
                if body.has(name):
                    return table
            if default is not None:
                return default
            raise RequestError(INVALID, body.path, f"one of {', '.join(choices)} is required")
        node = body.require(element)
        if node.text not in choices:
            raise RequestError(INVALID, node.path, f"must be one of {', '.join(choices)}")
        return choices[node.text]
    return resolve


E, G, GPF, CHF, PP, HC = "ESME", "GSME", "GPF", "CHF", "PPMID", "HCALCS"


def _voltage_use_case(body: Body) -> dict[str, tuple[str, ...]]:
    """6.5: single or poly phase settings, with or without the RMS voltage counter reset."""
    poly = body.has("PolyPhaseVoltageSettings")
    if not poly and not body.has("SinglePhaseVoltageSettings"):
        raise RequestError(INVALID, body.path, "SinglePhaseVoltageSettings or PolyPhaseVoltageSettings is required")
    keep_counters = body.has("RMSVoltageCountersNotReset")
    name = {(False, False): "ECS29a", (True, False): "ECS29b", (False, True): "ECS29c",
            (True, True): "ECS29d"}[(poly, keep_counters)]
    return {E: (name,)}


def _credential_details_use_case(body: Body) -> dict[str, tuple[str, ...]]:
    """6.24.1: the load-controller form (CS02f) when a load controller's details are asked for."""
    if any(r.text == "LoadController" for r in body.all("RemotePartyRole")):
        return {E: ("CS02fMAC",)}
    return {t: ("CS02aMAC",) for t in (E, G, GPF, CHF, PP, HC)}


def _clear_event_log(body: Body) -> dict[str, tuple[str, ...]]:
    """3.3: ESME event or ALCS event log by ESMEEventLogType; ZigBee device event log otherwise."""
    node = body.find("ESMEEventLogType")
    if node is None:
        return {G: ("CS11",), GPF: ("CS11",)}
    table = {"ESME": {E: ("ECS15a",)}, "ALCS": {E: ("ECS15c",)}}
    if node.text not in table:
        raise RequestError(INVALID, node.path, f"must be one of {', '.join(table)}")
    return table[node.text]


#: DUIS service reference variant -> {device type: GBCS use cases (default first)}, or a
#: resolver choosing that table from the body.
SERVICES: dict[str, object] = {
    "1.1.1": {E: ("ECS01a",), G: ("GCS01a",)},
    "1.1.2": {E: ("ECS01c",)},
    "1.2.1": {E: ("ECS01b",), G: ("GCS01b",)},
    "1.2.2": {E: ("ECS01d",)},
    "1.5": _by_body({"PrepaymentMode/AdjustMeterBalance": {E: ("ECS04a",), G: ("GCS40a",)},
                     "PrepaymentMode/ResetMeterBalance": {E: ("ECS04b",), G: ("GCS40b",)},
                     "CreditMode/AdjustMeterBalance": {E: ("ECS04a",), G: ("GCS40c",)},
                     "CreditMode/ResetMeterBalance": {E: ("ECS04b",), G: ("GCS40d",)}}),
    "1.6": _by_body({"Credit": {E: ("ECS02", "ECS02Twin"), G: ("GCS02",)},
                     "Prepayment": {E: ("ECS03", "ECS03Twin"), G: ("GCS03",)}}),
    "1.7": {E: ("ECS05",)},
    "2.1": {E: ("ECS08", "ECS08a"), G: ("GCS05",)},
    "2.2": {E: ("CS01a",), G: ("CS01b",)},
    "2.3": {E: ("ECS07",), G: ("GCS04",)},
    "2.5": {E: ("ECS09",), G: ("GCS06",)},
    "3.1": {E: ("ECS10",), G: ("GCS07",)},
    "3.2": {E: ("ECS12",), GPF: ("GCS09",)},
    "3.4": {E: ("ECS16",), G: ("GCS44",)},
    "3.5": {E: ("ECS14",), G: ("GCS11",)},
    "4.1.1": {E: ("ECS17b",), G: ("GCS13a",), GPF: ("GCS13a",)},
    "4.1.2": {E: ("ECS17d",), G: ("GCS13c",), GPF: ("GCS13c",)},
    "4.1.3": {E: ("ECS17e",)},
    "4.1.4": {G: ("GCS13b",), GPF: ("GCS13b",)},
    "4.2": {E: ("ECS17a",)},
    "4.3": {E: ("ECS19",), G: ("GCS14",), GPF: ("GCS14",)},
    "4.4.2": {E: ("ECS20b",), G: ("GCS15b",), GPF: ("GCS15b",)},
    "4.4.3": {E: ("ECS20c",), G: ("GCS15c",), GPF: ("GCS15c",)},
    "4.4.4": {E: ("ECS20a",), G: ("GCS15d",), GPF: ("GCS15d",)},
    "4.4.5": {E: ("ECS20d",), G: ("GCS15e",), GPF: ("GCS15e",)},
    "4.6.1": {E: ("ECS21a",), G: ("GCS16a",), GPF: ("GCS16a",)},
    "4.6.2": {E: ("ECS21c",)},
    "4.8.1": {E: ("ECS22b",), G: ("GCS17",), GPF: ("GCS17",)},
    "4.8.2": {E: ("ECS22c",)},
    "4.8.3": {E: ("ECS22a",)},
    "4.10": {E: ("ECS23", "ECS23b"), G: ("GCS18",), GPF: ("GCS18",)},
    "4.11.1": {E: ("ECS24",), G: ("GCS21f",), GPF: ("GCS21f",)},
    "4.11.2": {E: ("ECS24b",)},
    "4.12.1": {E: ("ECS18b",)},
    "4.12.2": {E: ("ECS18a",)},
    "4.13": {E: ("ECS26a",), G: ("GCS21b",), GPF: ("GCS21b",)},
    "4.14": {E: ("ECS21b",), G: ("GCS16b",), GPF: ("GCS16b",)},
    "4.15": {E: ("ECS27",)},
    "4.16": {E: ("ECS17c",)},
    "4.17": {E: ("ECS66",), G: ("GCS61",), GPF: ("GCS61",)},
    "4.18": {E: ("ECS82",), G: ("GCS60", "GCS60a"), GPF: ("GCS60", "GCS60a")},
    "6.2.1": {E: ("ECS26b", "ECS26k")},
    "6.2.2": {E: ("ECS26c",)},
    "6.2.3": {E: ("ECS26d", "ECS26l"), G: ("GCS21d", "GCS21k"), GPF: ("GCS21d", "GCS21k")},
    "6.2.4": {E: ("ECS26m", "ECS26e"), CHF: ("ECS26i", "ECS26n"), G: ("GCS21m", "GCS21e"),
              GPF: ("GCS21m", "GCS21e")},
    "6.2.5": {E: ("ECS26f",)},
    "6.2.7": {E: ("ECS40",), G: ("GCS46",), GPF: ("GCS46",)},
    "6.2.8": {G: ("GCS21a",), GPF: ("GCS21a",)},
    "6.2.9": {E: ("ECS26j",), G: ("GCS21j",), GPF: ("GCS21j",)},
    "6.2.10": {E: ("ECS25r1", "ECS25r2"), G: ("GCS20r",), GPF: ("GCS20r",)},
    "6.4.1": {E: ("ECS28a",)},
    "7.12": {E: ("ECS38",)},
    "7.13": {E: ("ECS47a",)},
    "6.4.2": {E: ("ECS28b",)},
    "6.5": _voltage_use_case,
    "6.6": {G: ("GCS23",)},
    "6.7": _by_body({"UncontrolledGasFlowRateDecimal": {G: ("GCS24a",)}}, default={G: ("GCS24",)}),
    "6.8": {E: ("ECS30", "ECS30a"), G: ("GCS25", "GCS25a")},
    "6.11": {E: ("ECS70",), G: ("GCS28",)},
    "6.12": {E: ("ECS34",)},
    "6.13": _by_body({"Event": {E: ("ECS35a",), CHF: ("ECS35c",), G: ("CS10a",), GPF: ("CS10a",)},
                      "Security": {E: ("ECS35b",), CHF: ("ECS35d",), G: ("CS10b",), GPF: ("CS10b",)},
                      "PowerEvent": {E: ("ECS35e",)},
                      "ALCSEvent": {E: ("ECS35g", "ECS35f")}}, "LogToRead"),
    "6.14.1": {E: ("ECS46a",)},
    "6.14.2": {E: ("ECS46c",)},
    "6.14.3": {E: ("ECS46d",)},
    "6.18.1": {E: ("ECS37",)},
    "6.18.2": {E: ("ECS57",)},
    "6.20.1": {E: ("ECS39a",), G: ("GCS41",)},
    "6.20.2": {E: ("ECS39b",)},
    "6.22": {E: ("ECS25a", "ECS25a1", "ECS25a2", "ECS25a3", "ECS25b", "ECS25b3"), G: ("GCS20",)},
    "6.24.1": lambda body: _credential_details_use_case(body),
    "6.24.2": {t: ("CS02e",) for t in (E, G, GPF, CHF, PP, HC)},
    "6.15.2": {t: ("CS02d",) for t in (E, G, GPF, CHF, PP, HC)},
    "6.25": {E: ("ECS81",)},
    "6.26": {E: ("ECS48",)},
    "6.27": {E: ("ECS29e", "ECS29f")},
    "6.28": {CHF: ("DBCH04",)},
    "6.29": {CHF: ("DBCH05",)},
    "6.30": {CHF: ("DBCH03",)},
    "6.31": {CHF: ("DBCH01",)},
    "6.32": {CHF: ("DBCH02",)},
    "7.1": {E: ("ECS42",)},
    "7.2": {E: ("ECS43",), G: ("GCS32",)},
    "7.3": {E: ("ECS44",), G: ("GCS39",)},
    "7.4": {E: ("ECS45",), G: ("GCS33",)},
    "7.5": {E: ("ECS47Activate",)},
    "7.7": {E: ("ECS61a",)},
    "7.8": {E: ("ECS47Reset",)},
    "7.9": {E: ("ECS62Add",)},
    "7.10": {E: ("ECS62Remove",)},
    "7.11": {E: ("ECS61c",)},
    "7.14": {E: ("ECS61d",)},
    "7.15": {E: ("ECS61e",)},
    "8.1.1": {E: ("ECS70Commission",), G: ("GCS28Commission",)},
    "8.8.1": {PP: ("CS04ACCritical",), HC: ("CS04ACCritical",)},
    "8.8.2": {G: ("CS04B",), GPF: ("CS04B",), PP: ("CS04ACNonCritical",), HC: ("CS04ACNonCritical",)},
    "8.9": _by_body({"ReadSecurityDetails": {CHF: ("CCS07",)}}, default={CHF: ("CCS06",)}),
    "8.11": _by_body({"Add": {CHF: ("CCS01",)}, "Remove": {CHF: ("CCS02",)}}, "RequestType"),
    "8.12.1": {CHF: ("CCS03",)},
    "9.1": {E: ("ECS50",), G: ("GCS36",)},
    "11.2": {E: ("ECS52",), G: ("GCS38",), CHF: ("ECS52",), PP: ("CS08",), HC: ("CS08",)},
}


SERVICES["3.3"] = _clear_event_log


def resolve_use_case(request: TransformRequest, body: Body) -> UseCaseSpec:
    """The GBCS use case a request becomes, or L{RequestError} saying why none."""
    entry = SERVICES.get(request.service_reference_variant)
    if entry is None:
        raise RequestError(UNSUPPORTED, "Header.ServiceReferenceVariant",
                           f"{request.service_reference_variant} is not a device service the transform knows")
    table = entry(body) if callable(entry) else entry
    names = table.get(request.device_type)
    if not names:
        raise RequestError(INVALID, "Header.RequestID",
                           f"service {request.service_reference_variant} does not apply to a {request.device_type}")
    if request.use_case is not None:
        if request.use_case not in names:
            raise RequestError(INVALID, "Header.ServiceReferenceVariant",
                               f"{request.use_case} is not a form of {request.service_reference_variant} "
                               f"on a {request.device_type} ({', '.join(names)})")
        name = request.use_case
    else:
        name = names[0]
    spec = _use_cases().get(name)
    if spec is None:
        raise RequestError(UNSUPPORTED, "Header.ServiceReferenceVariant",
                           f"the transform does not build {name} ({request.service_reference_variant})")
    return spec
