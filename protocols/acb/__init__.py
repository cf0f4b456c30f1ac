"""The DCC Access Control Broker: RBAC, the DUIS-to-GBCS transform and the critical flow.

  - L{request}: the parsed service request (L{TransformRequest}) and DUIS value readers;
  - L{usecases}: service reference variant -> GBCS use case -> payload (the spec mappings);
  - L{transform}: grouping header, payload, MAC with the ACB key, pre-command / signed
    pre-command (L{Transformer});
  - L{broker}: the ACB's state: pending critical requests, sent commands, correlation of
    responses and alerts by (originator, counter);
  - L{delivery}: queueing per CSP, retry with backoff and timeout at the target response time.
"""

from .request import (BAD_SIGNATURE, INVALID, MISMATCH, NOT_ELIGIBLE, UNSUPPORTED, RequestError,
                      TransformRequest, parse_request_id)
from .transform import TransformResult, Transformer
from .usecases import supported_use_cases
from .broker import AccessControlBroker, Correlated, SentCommand, Submitted, TimedOut
from .delivery import DeliveryQueue, Outcome

__all__ = ["RequestError", "TransformRequest", "parse_request_id", "INVALID", "NOT_ELIGIBLE", "UNSUPPORTED",
           "BAD_SIGNATURE", "MISMATCH", "TransformResult",
           "Transformer", "supported_use_cases", "AccessControlBroker", "Correlated", "SentCommand", "Submitted",
           "TimedOut", "DeliveryQueue", "Outcome"]
