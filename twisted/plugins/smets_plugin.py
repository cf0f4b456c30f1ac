"""twistd dropin for the SMETS2 / GBCS network emulator: C{twistd -n smets ...}.

Imports nothing heavy and never the reactor (STYLE-anchors.md, section 2): the service
maker names L{emulator.service} by string, so it is imported only after twistd has
chosen and installed its reactor.
"""

from twisted.application.service import ServiceMaker

smets = ServiceMaker(
    "SMETS2 network emulator",
    "emulator.service",
    "Run a GB smart-metering topology (HAN, GBCS) in real or virtual time",
    "smets",
)
