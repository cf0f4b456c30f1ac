"""Every command layout of the registry against arbitrary payloads: the codec gives a value or
a CodecError (never another exception), the JSON form of what decodes re-encodes to the very
same octets, and the Python form re-encodes to octets that decode to the same values (it is
canonical: a boolean octet 0x02 reads as True and is sent again as 0x01)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.errors import CodecError
from protocols.zcl.clusters import clusters

COMMANDS = [(cid, d, c) for cid, cl in sorted(clusters().items()) for d in (0, 1)
            for _, c in sorted(cl.commands(d).items())]

_FUZZ = settings(max_examples=1500, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow])


def test_the_registry_has_every_gbcs_cluster() -> None:
    assert {0x0000, 0x0003, 0x000A, 0x0019, 0x0700, 0x0702, 0x0703, 0x0704, 0x0705, 0x0707,
            0x0708, 0x0709, 0x0800} <= set(clusters())
    assert len(COMMANDS) > 120


@_FUZZ
@given(st.sampled_from(COMMANDS), st.binary(max_size=80))
def test_any_payload_decodes_or_is_a_codec_error(entry, data) -> None:
    _, _, cmd = entry
    try:
        tree = cmd.decode(data, js=True)
    except CodecError:
        tree = None
    if tree is not None:
        json.dumps(tree)
        assert cmd.encode(tree, js=True) == data
    try:
        values = cmd.decode(data)
    except CodecError:
        return
    # the Python form ignores octets beyond the last field (later spec versions add fields)
    wire = cmd.encode(values)   # None: an absent optional field, or an invalid boolean/string
    assert len(wire) <= len(data)
    assert cmd.decode(wire) == values
