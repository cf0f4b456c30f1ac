"""What the soak reads from the DCC's Access Control Broker: the end of each command's delivery.

The one place the soak relies on the broker's internals: L{emulator.dcc.acb.AcbBroker.delivery}
(a L{protocols.acb.DeliveryQueue}) reports an L{protocols.acb.delivery.Outcome} (C{key},
C{csp}, C{result}, C{attempts}, C{at}) for every command that ends; the observer keeps them
(retries = attempts beyond the first) and passes each on to the broker's own handler.
The ledger itself never uses these: it is kept from what the Users received.
"""

from __future__ import annotations

from collections import Counter

__all__ = ["DeliveryObserver"]


class DeliveryObserver:
    def __init__(self, broker) -> None:
        self.broker = broker
        queue = broker.delivery
        self._inner = queue.on_outcome
        queue.on_outcome = self._outcome
        #: (clock seconds, csp, result, attempts) of every command that ended
        self.outcomes: list[tuple[float, str, str, int]] = []
        self.by_result: Counter[str] = Counter()

    def _outcome(self, outcome) -> None:
        self.outcomes.append((outcome.at, outcome.csp, outcome.result, outcome.attempts))
        self.by_result[outcome.result] += 1
        self._inner(outcome)

    def depth(self) -> int:
        return len(self.broker.delivery)
