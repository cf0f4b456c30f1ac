"""YAML with line numbers, and the checks that name the line of a mistake.

Every YAML file a user writes (topologies, their C{dcc:} section, soak workloads and faults) is
read with L{_Loader} (mappings and lists that remember their line: L{_Map}, L{_Seq}) and checked
with L{_Checker}, so that a mistake is one line C{file:line: message} (L{TopologyError}).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["TopologyError", "_Map", "_Seq", "_Loader", "_Checker", "_describe", "load_yaml"]

_HEX = re.compile(r"^[0-9A-Fa-f]+$")


class TopologyError(ValueError):
    """A topology file is invalid; C{str()} is C{file:line: message}."""

    def __init__(self, filename: str, line: int, message: str) -> None:
        self.filename = filename
        self.line = line
        self.message = message
        super().__init__(f"{filename}:{line}: {message}")


# --- YAML with line numbers ------------------------------------------------------------

class _Map(dict):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int
    key_lines: dict[str, int]


class _Seq(list):
    line: int


class _Loader(yaml.SafeLoader):
    pass


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    out = _Map()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise TopologyError(loader.name, key_node.start_mark.line + 1,
                                f"mapping keys must be strings, got {key!r}")
        if key in out:
            raise TopologyError(loader.name, key_node.start_mark.line + 1, f"duplicate key {key!r}")
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> _Seq:
    out = _Seq(loader.construct_object(n, deep=True) for n in node.value)
    out.line = node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


# --- validation --------------------------------------------------------------------------

class _Checker:
    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, line: int, message: str) -> TopologyError:
        return TopologyError(self.filename, line, message)

    def mapping(self, value: Any, line: int, what: str) -> _Map:
        if not isinstance(value, _Map):
            raise self.fail(getattr(value, "line", line), f"{what} must be a mapping, got {_describe(value)}")
        return value

    def keys(self, m: _Map, allowed: set[str] | dict, what: str) -> None:
        for key in m:
            if key not in allowed:
                raise self.fail(m.key_lines[key],
                                f"unknown key {key!r} in {what} (allowed: {', '.join(sorted(allowed))})")

    def typed(self, m: _Map, key: str, kind: type | tuple[type, ...], what: str) -> Any:
        value = m[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            ok = False
        else:
            ok = isinstance(value, kinds)
        if not ok:
            names = " or ".join(k.__name__ for k in kinds)
            raise self.fail(m.key_lines[key], f"{what}.{key} must be {names}, got {_describe(value)}")
        return value

    def hexbytes(self, m: _Map, key: str, size: int, what: str) -> bytes:
        text = str(m[key]).replace(":", "").replace("-", "").replace(" ", "")
        if not _HEX.match(text) or len(text) != 2 * size:
            raise self.fail(m.key_lines[key], f"{what}.{key} must be {size} bytes of hex ({2 * size} digits), "
                                              f"got {m[key]!r}")
        return bytes.fromhex(text)


def _describe(value: Any) -> str:
    if isinstance(value, _Map):
        return "a mapping"
    if isinstance(value, _Seq):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def load_yaml(text: str, filename: str, what: str) -> Any:
    """The document in C{text} with line numbers (L{_Map}, L{_Seq}); a YAML syntax error, a
    duplicate or non-string key, or an empty file (C{what}: "topology", "workload") is a
    L{TopologyError} naming the line."""
    loader = _Loader(text)
    loader.name = filename
    try:
        doc = loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise TopologyError(filename, line, f"invalid YAML: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise TopologyError(filename, 0, f"invalid YAML: {e}") from None
    finally:
        loader.dispose()
    if doc is None:
        raise TopologyError(filename, 1, f"{what} file is empty")
    return doc
