"""COSEM objects of ESME use cases the base model (L{emulator.devices.gbcs.cosem}) leaves out.

Each entry is the GBCS object a use case of the catalogue reads or writes, with the DLMS
type GBCS gives its value (spec/gbcs-wire-format.md 4.1.5 and the use-case definitions):

  - ECS12 set change of tenancy date: 0-0:94.44.3.2 Restrict Data Date Time, a COSEM
    date-time (octet-string 12);
  - ECS18a read maximum demand registers (export): 0-0:94.44.5.2, the date-time of the last
    export maximum demand reset (as 0-0:94.44.5.0/.1 for import);
  - ECS22c read half hour profile data (reactive import): 0-0:99.1.2.255, entries of capture
    time and reactive import (double-long-unsigned each);
  - ECS35e read ESME power event log: 0-0:99.98.4.255, entries of capture time and event
    code (as the security log);
  - ECS24b read tariff data, second element: 0-0:94.44.1.8, the secondary element standing
    charge register (Register, double-long-unsigned as 0-0:94.44.1.7).

Registered when the device package is imported (DLMS devices build their models from these
tables when they are created).
"""

from __future__ import annotations

import copy

from emulator.devices.gbcs.cosem import INSTANCE_DEVICE, INSTANCE_TYPES, NEVER, PROFILE_COLUMNS

__all__: list[str] = []

_DLU, _LU = "double-long-unsigned", "long-unsigned"

for _obis in ("0-0:94.44.3.2", "0-0:94.44.5.2"):
    INSTANCE_TYPES[(1, _obis, 2)] = lambda: copy.deepcopy(NEVER)
    INSTANCE_DEVICE[(1, _obis)] = "ESME"
INSTANCE_TYPES[(3, "0-0:94.44.1.8", 2)] = lambda: {"type": _DLU, "value": 0}
INSTANCE_DEVICE[(3, "0-0:94.44.1.8")] = "ESME"
PROFILE_COLUMNS.setdefault("0-0:99.1.2.255", ((_DLU, _DLU), None))
PROFILE_COLUMNS.setdefault("0-0:99.98.4.255", ((_DLU, _LU), None))
