"""The transform's GBZ building blocks name clusters through the one ZCL registry."""

from __future__ import annotations

import pytest

from protocols.acb.gbz_items import CLUSTERS, cluster_command, read_attributes
from protocols.zcl.clusters import clusters


def test_every_registry_cluster_is_addressable_by_its_name():
    registry = clusters()
    assert CLUSTERS == {c.name: c.cluster_id for c in registry.values()}
    # a cluster the transform did not list by hand (Time) resolves with its attribute ids
    comp = read_attributes("Time", "Time", "TimeStatus")
    assert comp["cluster_id"] == 0x000A
    assert comp["zcl"]["payload"]["Attributes"] == [{"AttributeID": 0x0000}, {"AttributeID": 0x0001}]
    assert cluster_command("Tunneling", 0x00, {})["cluster_id"] == 0x0704
    assert read_attributes("Metering", "CurrentSummationDelivered")["cluster_id"] == 0x0702


def test_an_unknown_cluster_name_is_a_specific_error():
    with pytest.raises(KeyError, match="no ZCL cluster named 'Metrng'.*Metering"):
        read_attributes("Metrng", "Divisor")
