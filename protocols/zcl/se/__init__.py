"""ZigBee Smart Energy (ZSE 1.4, 07-5356-19) and general ZCL cluster definitions used on the
GB smart-metering HAN and in GBCS GBZ payloads: Basic (0x0000), Identify (0x0003), On/Off (0x0006), Time
(0x000A), OTA Upgrade (0x0019), Price (0x0700), Metering (0x0702, with mirroring), Messaging
(0x0703), Tunneling (0x0704), Prepayment (0x0705), Calendar (0x0707), Device Management
(0x0708), Events (0x0709) and Key Establishment (0x0800, message formats).

Each module holds one pure, shared L{protocols.zcl.cluster_defs.ClusterDef}; L{SE_CLUSTERS} lists
them all and is what L{protocols.zcl.clusters.get_cluster} looks clusters up in.
"""

from protocols.zcl.se.basic import BASIC, BASIC_CLUSTER_ID
from protocols.zcl.se.calendar import CALENDAR, CALENDAR_CLUSTER_ID
from protocols.zcl.se.device_management import DEVICE_MANAGEMENT, DEVICE_MANAGEMENT_CLUSTER_ID
from protocols.zcl.se.events import EVENTS, EVENTS_CLUSTER_ID
from protocols.zcl.se.identify import IDENTIFY, IDENTIFY_CLUSTER_ID
from protocols.zcl.se.key_establishment import KEY_ESTABLISHMENT, KEY_ESTABLISHMENT_CLUSTER_ID
from protocols.zcl.se.messaging import MESSAGING, MESSAGING_CLUSTER_ID
from protocols.zcl.se.metering import METERING, METERING_CLUSTER_ID
from protocols.zcl.se.on_off import ON_OFF, ON_OFF_CLUSTER_ID
from protocols.zcl.se.ota import OTA_UPGRADE, OTA_UPGRADE_CLUSTER_ID
from protocols.zcl.se.prepayment import PREPAYMENT, PREPAYMENT_CLUSTER_ID
from protocols.zcl.se.price import PRICE, PRICE_CLUSTER_ID
from protocols.zcl.se.time import TIME, TIME_CLUSTER_ID
from protocols.zcl.se.tunneling import TUNNELING, TUNNELING_CLUSTER_ID

__all__ = ["SE_CLUSTERS", "BASIC", "IDENTIFY", "TIME", "METERING", "PRICE", "TUNNELING",
           "KEY_ESTABLISHMENT", "BASIC_CLUSTER_ID", "IDENTIFY_CLUSTER_ID", "TIME_CLUSTER_ID",
           "METERING_CLUSTER_ID", "PRICE_CLUSTER_ID", "TUNNELING_CLUSTER_ID",
           "KEY_ESTABLISHMENT_CLUSTER_ID", "OTA_UPGRADE", "OTA_UPGRADE_CLUSTER_ID", "MESSAGING",
           "MESSAGING_CLUSTER_ID", "PREPAYMENT", "PREPAYMENT_CLUSTER_ID", "CALENDAR",
           "CALENDAR_CLUSTER_ID", "DEVICE_MANAGEMENT", "DEVICE_MANAGEMENT_CLUSTER_ID", "EVENTS",
           "EVENTS_CLUSTER_ID", "ON_OFF", "ON_OFF_CLUSTER_ID"]

#: Every cluster definition in this package.
SE_CLUSTERS = (BASIC, IDENTIFY, TIME, OTA_UPGRADE, PRICE, METERING, MESSAGING, TUNNELING,
               PREPAYMENT, CALENDAR, DEVICE_MANAGEMENT, EVENTS, KEY_ESTABLISHMENT, ON_OFF)
