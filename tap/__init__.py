"""Bridges from the emulator to the outside world's tools.

Today: Wireshark key export (L{tap.wireshark}).  Linux TAP bridging (HAN frames as
ZEP/UDP, WAN as IP) and network-namespace helpers arrive with the operators' tools
(DESIGN.md roadmap, step 4).
"""
