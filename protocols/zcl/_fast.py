"""Faster construction of frozen slots dataclasses (an implementation detail, no spec).

A frozen dataclass's generated C{__init__} assigns each field through C{object.__setattr__},
about 0.4 us per field. L{fast_init} replaces it with one that calls the slot descriptors'
C{__set__} directly (same semantics: positional/keyword arguments and defaults as declared;
the instance stays frozen afterwards), which makes decoding a ZCL frame ~3x cheaper.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

C = TypeVar("C", bound=type)


def fast_init(cls: C) -> C:
    """Class decorator, applied above C{@dataclass(frozen=True, slots=True)}."""
    fields = [f for f in dataclasses.fields(cls) if f.init]
    env: dict[str, Any] = {}
    params, body = [], []
    for f in fields:
        if f.default_factory is not dataclasses.MISSING:
            raise TypeError("fast_init does not support default_factory")
        env[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            env[f"_dflt_{f.name}"] = f.default
            params.append(f"{f.name}=_dflt_{f.name}")
        body.append(f"    _set_{f.name}(self, {f.name})\n")
    src = f"def __init__(self, {', '.join(params)}):\n" + "".join(body or ["    pass\n"])
    ns: dict[str, Any] = {}
    exec(src, env, ns)  # noqa: S102 - generated from field names only
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init
    return cls
