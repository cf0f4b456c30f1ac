"""GB-HRGP: GBCS over the ZigBee Smart Energy Tunneling cluster, and the CHF's routing.

  - L{protocols.hrgp.codec}: GET / GET-RESPONSE / PUT framing and the Tunneling commands;
  - L{protocols.hrgp.client}: the device end of a tunnel (sans-IO state machine);
  - L{protocols.hrgp.server}: the CHF end (tunnels, inactivity close);
  - L{protocols.hrgp.chf}: routing by business recipient id, the sleepy-device queue;
  - L{protocols.hrgp.alerts}: the CHF's GBCS alerts about undelivered messages.
"""
