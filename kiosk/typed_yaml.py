"""Typed settings from YAML: each value checked against its dataclass field, a section built
with its nested sections, and duplicate keys refused. config.py declares the sections; this
module is how any of them is read, so every error names its key the same way.
"""

from __future__ import annotations

import dataclasses
import math
import re
import reprlib
import typing

import yaml

from kiosk.errors import ConfigError

if typing.TYPE_CHECKING:
    from _typeshed import DataclassInstance


def _shown(value: object, limit: int = 80) -> str:
    """A value as an error message shows it: short, however large or deeply nested it is."""
    shortened = reprlib.Repr()
    shortened.maxlevel, shortened.maxlist, shortened.maxdict = 2, 4, 4
    text = shortened.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def check_value(key: str, value: object, kind: type, meta: typing.Mapping) -> object:
    """VALUE for KEY checked against its annotated KIND and its field's META (range, choices,
    pattern, a parser): converted where YAML reads it otherwise, or ConfigError naming KEY."""
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {_shown(value)}")
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind in (int, float) and (isinstance(value, bool) or not isinstance(value, kind)):
        raise ConfigError(f"{key}: expected {'an integer' if kind is int else 'a number'}, got {_shown(value)}")
    if kind is str and value is False and "off" in meta.get("choices", ()):
        value = "off"  # YAML reads a bare `off` as false
    if kind is str and not isinstance(value, str):
        raise ConfigError(f"{key}: expected text, got {_shown(value)}")
    if typing.get_origin(kind) is tuple:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{key}: expected a list of text, got {_shown(value)}")
        return tuple(value)
    if kind is float and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key}: expected a finite number, got {_shown(value)}")
    low, high = meta.get("low"), meta.get("high")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"{key}: {_shown(value)} is out of range, allowed {low} to {high}")
    if meta.get("parse"):
        try:
            meta["parse"](value)
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from None
    choices = meta.get("choices")
    if choices:
        text = str(value)
        pattern = meta.get("pattern")
        if text not in choices and not (pattern and re.fullmatch(pattern, text)):
            allowed = ", ".join(choices + ((meta["forms"],) if meta.get("forms") else ()))
            raise ConfigError(f"{key}: {_shown(value)} is not allowed, allowed values: {allowed}")
    return value


_Section = typing.TypeVar("_Section", bound="DataclassInstance")


def build_section(cls: type[_Section], raw: object, prefix: str) -> _Section:
    """The dataclass CLS from RAW (a YAML mapping), nested sections included; unknown keys and
    bad values are refused with their full key (PREFIX + name)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping of keys, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(map(str, raw)) - set(fields))
    if unknown:
        key = f"{prefix}{unknown[0]}"
        raise ConfigError(f"{key}: unknown key, allowed keys here: {', '.join(fields)}")
    values: dict[str, object] = {}
    for name, f in fields.items():
        if name not in raw:
            continue
        key = f"{prefix}{name}"
        kind = hints[name]
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            values[name] = build_section(kind, raw[name], f"{key}.")
        else:
            values[name] = check_value(key, raw[name], kind, f.metadata)
    return cls(**values)


def refuse_duplicate_keys(node: yaml.Node | None, prefix: str = "", seen_nodes: set[int] | None = None) -> None:
    """PyYAML keeps the last of two equal keys, so a second `recognition:` block would silently
    drop the first one's settings: refuse it, naming the key and both lines. Each node is looked
    at once, however often aliases repeat it (a "billion laughs" file stays quick)."""
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key, line = f"{prefix}{key_node.value}", key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(f"{key}: given twice, on line {seen[key]} and line {line}")
            seen[key] = line
            refuse_duplicate_keys(value_node, f"{key}.", seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            refuse_duplicate_keys(item, prefix, seen_nodes)
