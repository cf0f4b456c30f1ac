"""SMWAN: the CSP transports between the DCC (DSP) and the Communications Hubs.

 - L{frames}: the frame codec (ATTACH, ATTACH_ACK, KEEPALIVE, DATA, DATA_ACK, DETACH);
 - L{profiles}: per-region link profiles (north long-range radio; centre and south cellular);
 - L{channel}: sequence numbers, acknowledgements, retransmission, reassembly: exactly once, in order;
 - L{hub}: the hub's WAN machine (attach, keep-alive, reconnect with backoff, store and forward);
 - L{gateway}: the DCC side's CSP gateway (a session per hub, routing by EUI-64).

Adapters (TCP, emulated WAN links, capture) live in L{emulator.wan}.
"""

from protocols.smwan.frames import Frame, FrameReader, FrameType, decode_frame, encode_frame
from protocols.smwan.gateway import CspGateway, HubSession
from protocols.smwan.hub import HubWanEndpoint
from protocols.smwan.profiles import DEFAULT_PROFILES, LinkProfile

__all__ = ["Frame", "FrameReader", "FrameType", "decode_frame", "encode_frame", "CspGateway", "HubSession",
           "HubWanEndpoint", "DEFAULT_PROFILES", "LinkProfile"]
