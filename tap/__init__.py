"""Bridges from the emulator to the outside world's tools.

 - L{tap.wireshark}: Wireshark's ZigBee key table (C{--keys}).
 - L{tap.zep}: ZEP v2 in Ethernet / IPv4 / UDP (and ARP), a sans-IO codec.
 - L{tap.han}: a home's HAN medium bridged to Ethernet frames as ZEP (sans-IO).
 - L{tap.linux}: the Linux TAP adapter (C{twisted.pair.tuntap}) and its preconditions
   (C{--tap-han HOME=IFNAME}).
"""
