"""ZigBee Smart Energy (ZSE 1.4, 07-5356-19) and general ZCL cluster definitions used on the
GB smart-metering HAN: Basic (0x0000), Identify (0x0003), Time (0x000A), Price (0x0700),
Metering (0x0702, with mirroring), Tunneling (0x0704) and Key Establishment (0x0800, message
formats).

Each module holds one pure, shared L{protocols.zcl.clusters.ClusterDef}; L{SE_CLUSTERS} lists
them all and is what L{protocols.zcl.clusters.get_cluster} looks clusters up in.
"""

from protocols.zcl.se.basic import BASIC, BASIC_CLUSTER_ID
from protocols.zcl.se.identify import IDENTIFY, IDENTIFY_CLUSTER_ID
from protocols.zcl.se.key_establishment import KEY_ESTABLISHMENT, KEY_ESTABLISHMENT_CLUSTER_ID
from protocols.zcl.se.metering import METERING, METERING_CLUSTER_ID
from protocols.zcl.se.price import PRICE, PRICE_CLUSTER_ID
from protocols.zcl.se.time import TIME, TIME_CLUSTER_ID
from protocols.zcl.se.tunneling import TUNNELING, TUNNELING_CLUSTER_ID

__all__ = ["SE_CLUSTERS", "BASIC", "IDENTIFY", "TIME", "METERING", "PRICE", "TUNNELING",
           "KEY_ESTABLISHMENT", "BASIC_CLUSTER_ID", "IDENTIFY_CLUSTER_ID", "TIME_CLUSTER_ID",
           "METERING_CLUSTER_ID", "PRICE_CLUSTER_ID", "TUNNELING_CLUSTER_ID",
           "KEY_ESTABLISHMENT_CLUSTER_ID"]

#: Every cluster definition in this package.
SE_CLUSTERS = (BASIC, IDENTIFY, TIME, PRICE, METERING, TUNNELING, KEY_ESTABLISHMENT)
