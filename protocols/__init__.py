"""Sans-IO protocol codecs and state machines of the GB smart-metering network.

Nothing in this package opens sockets, touches the global reactor or reads the
wall clock: time and randomness are injected by the caller (see DESIGN.md).
"""
