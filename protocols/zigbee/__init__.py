"""ZigBee PRO network and application-support layers for the SMETS2 HAN.

Pure, sans-IO codecs (ZigBee PRO 05-3474 and ZSE 1.x; facts checked against Wireshark in
``/work/shared/spec/han-zigbee-wireshark.md`` section 3):

  - L{protocols.zigbee.keys}: AES-MMO hash, HMAC-MMO, key-transport / key-load keys,
    install-code CRC and install code -> preconfigured link key (Annex B.6, B.1.4).
  - L{protocols.zigbee.nwk}: NWK frames and NWK commands (3.3, 3.4).
  - L{protocols.zigbee.aps}: APS data / command / ack frames and APS commands
    (2.2.5, 4.4.9).
  - L{protocols.zigbee.security}: auxiliary security header, CCM* (MIC-32) NWK and APS
    security, frame counters (4.5, Annex A).
  - L{protocols.zigbee.zdo}: ZDP messages used while joining (2.4.3, 2.4.4).
  - L{protocols.zigbee.fragmentation}: APS fragmentation and reassembly (2.2.8.4.5).

The most used names are re-exported here.
"""

from protocols.zigbee.aps import (
    APS_DELIVERY_BROADCAST,
    APS_DELIVERY_GROUP,
    APS_DELIVERY_UNICAST,
    APS_FRAME_ACK,
    APS_FRAME_COMMAND,
    APS_FRAME_DATA,
    PROFILE_SMART_ENERGY,
    PROFILE_ZDP,
    ApsFrame,
    ConfirmKey,
    RemoveDevice,
    RequestKey,
    SwitchKey,
    TransportKey,
    Tunnel,
    UpdateDevice,
    VerifyKey,
    decode_aps,
    decode_aps_command,
    encode_aps,
    encode_aps_command,
)
from protocols.zigbee.fragmentation import FragmentSender, Reassembler, fragment_frames, split_asdu
from protocols.zigbee.keys import (
    ZIGBEE_ALLIANCE_09,
    aes_mmo_hash,
    append_install_code_crc,
    hmac_mmo,
    install_code_crc,
    install_code_to_link_key,
    key_load_key,
    key_transport_key,
    validate_install_code,
)
from protocols.zigbee.nwk import NwkFrame, SourceRoute, decode_nwk, decode_nwk_command, encode_nwk, encode_nwk_command
from protocols.zigbee.security import (
    KEY_ID_DATA,
    KEY_ID_KEY_LOAD,
    KEY_ID_KEY_TRANSPORT,
    KEY_ID_NETWORK,
    AuxHeader,
    FrameCounters,
    secure_aps,
    secure_nwk,
    unsecure_aps,
    unsecure_nwk,
)
from protocols.zigbee.zdo import decode_zdp, encode_zdp

__all__ = [
    "APS_DELIVERY_BROADCAST", "APS_DELIVERY_GROUP", "APS_DELIVERY_UNICAST",
    "APS_FRAME_ACK", "APS_FRAME_COMMAND", "APS_FRAME_DATA", "PROFILE_SMART_ENERGY", "PROFILE_ZDP",
    "ApsFrame", "ConfirmKey", "RemoveDevice", "RequestKey", "SwitchKey", "TransportKey", "Tunnel",
    "UpdateDevice", "VerifyKey", "decode_aps", "decode_aps_command", "encode_aps", "encode_aps_command",
    "FragmentSender", "Reassembler", "fragment_frames", "split_asdu",
    "ZIGBEE_ALLIANCE_09", "aes_mmo_hash", "append_install_code_crc", "hmac_mmo", "install_code_crc",
    "install_code_to_link_key", "key_load_key", "key_transport_key", "validate_install_code",
    "NwkFrame", "SourceRoute", "decode_nwk", "decode_nwk_command", "encode_nwk", "encode_nwk_command",
    "KEY_ID_DATA", "KEY_ID_KEY_LOAD", "KEY_ID_KEY_TRANSPORT", "KEY_ID_NETWORK", "AuxHeader",
    "FrameCounters", "secure_aps", "secure_nwk", "unsecure_aps", "unsecure_nwk",
    "decode_zdp", "encode_zdp",
]
