"""DUIS: the DCC User Interface (XML service requests and responses), sans-IO.

  - L{protocols.duis.request}: parse and schema-check requests (RequestID, CommandVariant,
    service reference and variant, body; signed pre-commands);
  - L{protocols.duis.xmldsig}: the enveloped ECDSA XML signature DUIS uses;
  - L{protocols.duis.matrix} and L{protocols.duis.rbac}: the request matrix and role checks;
  - L{protocols.duis.gateway}: the checks in DUIS order, bytes in, accepted request or code out;
  - L{protocols.duis.response}: acknowledgements, responses, pre-commands, alerts;
  - L{protocols.duis.codes}: the response codes.
"""
