"""The Twisted runtime that hosts the protocols (DESIGN.md, "Layout").

Virtual-time scheduler (L{emulator.clock}), seeded randomness (L{emulator.rng}), links and
the HAN radio medium (L{emulator.links}, L{emulator.medium}, L{emulator.impairments}),
pcapng capture (L{emulator.capture}), topology files (L{emulator.topology}), the estate of
homes and devices (L{emulator.estate}, L{emulator.devices}), metrics, the twistd service
(L{emulator.service}) and the C{smets} command line (L{emulator.cli}).
"""
