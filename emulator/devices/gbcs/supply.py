"""The ESME's supply state (its load switch) and load limiting, on the COSEM model.

Supply state is the Disconnect control object (IC70, 0-0:96.3.10.255) GBCS reads with ECS45:
its control_state (attribute 3) is 0 disconnected (supply Disabled), 1 connected (Enabled) or
2 ready for reconnection (Armed); output_state (attribute 2) is true while the switch is
closed.  The remote party changes it by executing a script of the load switch script table
(IC9, 0-0:10.0.106.255; the script ids are the ones the DCC's ECS42/43/44 reference commands
execute):

  - ECS42 "remotely close the load switch" (script 51): Disabled or Armed -> Enabled;
  - ECS43 "remotely open the load switch" (script 52): -> Disabled;
  - ECS44 "arm the load switch" (script 54): Disabled -> Armed (an enabled supply stays
    enabled: arming is the way back from Disabled, not a way to interrupt the supply).

Load limiting (ECS27 reads it, ECS28a configures it, ECS28b resets its counter) is a
L{LoadLimiter}: a sans-IO machine fed the active power import with its time (in the running
estate, by L{follow_load} from the ESME's household load model).  Its
configuration is the active value (attribute 2) of the GBCS Extended Data objects ECS28a
writes, in the order of the use case: load limit power threshold (0-0:94.44.128.7, W), load
limit period (0-0:94.44.128.6, s: how long the import must stay above the threshold),
load limit restoration period (0-0:94.44.128.8, s) and the load limit supply state
(0-0:94.44.0.3, boolean: disable the supply when the limit triggers).  When the import has
stayed above the threshold for the period the meter counts the event in the load limit
counter (0-0:94.44.42.255, the register ECS28b resets) and raises 0x8F01 (active power import
above load limit threshold); if the supply state says so, the supply is disabled then armed
(0x8F33) and, once the import has stayed at or below the threshold for the restoration
period, enabled again (0x8F34).  Threshold 0 switches load limiting off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from emulator.devices.gbcs.cosem import (ALTERNATIVE_TYPES, INSTANCE_DEVICE, INSTANCE_TYPES, NEVER, OTHER_REASON,
                                         SUCCESS, CosemObject, ObjectModel)

__all__ = ["DISCONNECT_CONTROL", "LOAD_SWITCH_SCRIPTS", "SUPPLY_DISABLED", "SUPPLY_ENABLED", "SUPPLY_ARMED",
           "SCRIPT_ENABLE", "SCRIPT_DISABLE", "SCRIPT_ARM", "ALERT_LOAD_LIMIT_THRESHOLD",
           "ALERT_LOAD_LIMIT_DISABLED_ARMED", "ALERT_LOAD_LIMIT_RESTORED", "supply_state", "set_supply_state",
           "LoadLimitConfig", "LoadLimiter", "load_switch_script", "follow_load", "LOAD_SAMPLE_INTERVAL"]

DISCONNECT_CONTROL = "0-0:96.3.10.255"
LOAD_SWITCH_SCRIPTS = "0-0:10.0.106.255"

#: IC70 control_state values
SUPPLY_DISABLED, SUPPLY_ENABLED, SUPPLY_ARMED = 0, 1, 2

#: load switch script ids (ECS42, ECS43, ECS44)
SCRIPT_ENABLE, SCRIPT_DISABLE, SCRIPT_ARM = 51, 52, 54

ALERT_LOAD_LIMIT_THRESHOLD = 0x8F01      # Active Power Import above Load Limit Threshold
ALERT_LOAD_LIMIT_DISABLED_ARMED = 0x8F33  # Supply Disabled then Armed - Load Limit triggered
ALERT_LOAD_LIMIT_RESTORED = 0x8F34       # Supply Enabled after Load Limit Restoration Period

#: the load limiting objects (IC9000 active value, attribute 2) and the counter (IC3)
LOAD_LIMIT_THRESHOLD = "0-0:94.44.128.7"
LOAD_LIMIT_PERIOD = "0-0:94.44.128.6"
LOAD_LIMIT_RESTORATION = "0-0:94.44.128.8"
LOAD_LIMIT_SUPPLY_STATE = "0-0:94.44.0.3"
LOAD_LIMIT_COUNTER = "0-0:94.44.42.255"


def supply_state(model: ObjectModel) -> int:
    """The supply state: L{SUPPLY_DISABLED}, L{SUPPLY_ENABLED} or L{SUPPLY_ARMED}."""
    obj = model.objects.get((70, DISCONNECT_CONTROL))
    if obj is None:
        return SUPPLY_ENABLED
    return int(obj.get(3)["value"])


def set_supply_state(model: ObjectModel, state: int) -> None:
    """Move the load switch: control_state and the output state that follows it."""
    obj = model.add(70, DISCONNECT_CONTROL)
    obj.attributes[3] = {"type": "enum", "value": state}
    obj.attributes[2] = {"type": "boolean", "value": state == SUPPLY_ENABLED}


def load_switch_script(model: ObjectModel, script_id: int) -> int:
    """Execute a load switch script (ECS42/43/44); the Action-Result."""
    state = supply_state(model)
    if script_id == SCRIPT_ENABLE:
        set_supply_state(model, SUPPLY_ENABLED)
    elif script_id == SCRIPT_DISABLE:
        set_supply_state(model, SUPPLY_DISABLED)
    elif script_id == SCRIPT_ARM:
        if state == SUPPLY_DISABLED:
            set_supply_state(model, SUPPLY_ARMED)
    else:
        return OTHER_REASON          # no such script in the load switch table
    return SUCCESS


def _active_value(model: ObjectModel, class_id: int, obis: str) -> Any:
    obj = model.objects.get((class_id, obis))
    if obj is None:
        return None
    value = obj.get(2)
    return None if value is None else value.get("value")


@dataclass(frozen=True, slots=True)
class LoadLimitConfig:
    """The load limiting configuration in force (from the model's active values)."""

    threshold_w: int = 0
    period_s: int = 0
    restoration_s: int = 0
    disable_supply: bool = False

    @classmethod
    def from_model(cls, model: ObjectModel) -> "LoadLimitConfig":
        def num(obis: str) -> int:
            v = _active_value(model, 9000, obis)
            return int(v) if isinstance(v, (int, bool)) else 0
        return cls(num(LOAD_LIMIT_THRESHOLD), num(LOAD_LIMIT_PERIOD), num(LOAD_LIMIT_RESTORATION),
                   bool(_active_value(model, 9000, LOAD_LIMIT_SUPPLY_STATE)))


class LoadLimiter:
    """Load limiting of one ESME (sans-IO: fed power samples with their time).

    @param model: the ESME's COSEM model (configuration, counter and supply state live there).
    @param alert: called with an alert code when load limiting acts.
    """

    def __init__(self, model: ObjectModel, alert: Callable[[int], None]) -> None:
        self.model = model
        self.alert = alert
        #: when the import went above the threshold (None: at or below it)
        self._above_since: float | None = None
        #: when the import fell back to or below the threshold after a trigger
        self._below_since: float | None = None
        #: a trigger happened and the supply was disabled by load limiting (awaiting restoration)
        self._disabled_by_limit = False
        #: the current excursion above the threshold was already counted
        self._counted = False
        self.triggers = 0

    def observe(self, power_w: float, now: float) -> None:
        """The active power import is C{power_w} at time C{now} (seconds)."""
        cfg = LoadLimitConfig.from_model(self.model)
        if cfg.threshold_w <= 0:
            self._above_since = self._below_since = None
            self._counted = False
            return
        if power_w > cfg.threshold_w:
            self._below_since = None
            if self._above_since is None:
                self._above_since = now
            if not self._counted and now - self._above_since >= cfg.period_s:
                self._trigger(cfg)
            return
        self._above_since = None
        self._counted = False
        if self._disabled_by_limit:
            if self._below_since is None:
                self._below_since = now
            if now - self._below_since >= cfg.restoration_s:
                self._restore()

    def _trigger(self, cfg: LoadLimitConfig) -> None:
        self._counted = True
        self.triggers += 1
        counter = self.model.add(3, LOAD_LIMIT_COUNTER).writable(2)
        if counter is not None:
            counter["value"] = int(counter["value"]) + 1
        self.alert(ALERT_LOAD_LIMIT_THRESHOLD)
        if cfg.disable_supply and supply_state(self.model) == SUPPLY_ENABLED:
            set_supply_state(self.model, SUPPLY_ARMED)
            self._disabled_by_limit = True
            self.alert(ALERT_LOAD_LIMIT_DISABLED_ARMED)

    def _restore(self) -> None:
        self._disabled_by_limit = False
        self._below_since = None
        if supply_state(self.model) == SUPPLY_ARMED:    # a remote party may have changed it meanwhile
            set_supply_state(self.model, SUPPLY_ENABLED)
            self.alert(ALERT_LOAD_LIMIT_RESTORED)


#: how often a running ESME's load limiting looks at its active power import (s)
LOAD_SAMPLE_INTERVAL = 10.0


def follow_load(esme: Any, read_power: Callable[[float], float], clock: Any,
                interval: float = LOAD_SAMPLE_INTERVAL) -> None:
    """Feed an ESME's load limiting from its load model: every C{interval} seconds of C{clock},
    C{esme.observe_power(read_power(now))} (the running estate's ESMEs; virtual or real time)."""
    def tick() -> None:
        esme.observe_power(read_power(clock.seconds()))
        esme.load_sampling = clock.callLater(interval, tick)
    esme.load_sampling = clock.callLater(interval, tick)


def reset_counter(model: ObjectModel, obj: CosemObject, method: int, param: dict) -> int:
    """IC3 m1 reset (ECS28b on the load limit counter): the value goes back to 0."""
    value = obj.writable(2)
    if value is not None:
        value["value"] = 0
    return SUCCESS


# ECS47e, limit APC [n] level (L{emulator.devices.gbcs.apc}): APC n's limit period, start .3 and
# end .4 of 0-0:94.44.(116 + n) (the catalogue's examples are APC 3 and 5, groups 119 and 121;
# the ECS102 reference alerts name APC 1, so every controller 1-5 has them); the script table
# 0-0:10.0.107.255 runs the limit.  Each is a DLMS date-time (the default); the end may be a
# duration in minutes (long-unsigned, the CHOICE GBCS allows for the switching times .1 of the
# same groups); an unsigned is accepted and read as "not specified".
for _g in range(117, 122):
    for _i in (3, 4):
        INSTANCE_TYPES[(1, f"0-0:94.44.{_g}.{_i}", 2)] = lambda: dict(NEVER)
        INSTANCE_DEVICE[(1, f"0-0:94.44.{_g}.{_i}")] = "ESME"
        ALTERNATIVE_TYPES[(1, f"0-0:94.44.{_g}.{_i}", 2)] = frozenset({"octet-string", "long-unsigned", "unsigned"})
