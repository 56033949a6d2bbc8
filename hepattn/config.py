"""Frozen dataclass configs built from plain dicts or YAML files: the one config system.

Every configurable part of hepattn — each ``hepattn.nn`` module, the training loop, the χ²
baseline, the tasks' run configs — takes its own frozen dataclass deriving from
:class:`Config`. ``Config.from_dict`` checks keys and value types and builds nested configs,
so that ``EncoderConfig.from_dict(yaml.safe_load(text))`` either gives a valid config or
raises a :class:`ConfigError` naming the key at fault; ``Config.from_yaml`` does the same for
a file (``yaml.safe_load``) and names the file; ``to_dict`` gives the YAML-ready inverse.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import yaml

from hepattn.errors import HepattnError


class ConfigError(HepattnError, ValueError):
    """A model configuration has an unknown key, a missing key or a bad value."""


C = TypeVar("C", bound="Config")


def _coerce(where: str, hint: Any, value: Any) -> Any:
    """Check ``value`` against the type ``hint`` of a field; convert lists and nested dicts."""
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and issubclass(hint, Config):
        if isinstance(value, hint):
            return value
        if isinstance(value, Mapping):
            return hint.from_dict(value)
        raise ConfigError(f"{where}: expected a mapping for {hint.__name__}, got {value!r}")
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(f"{where}: must be one of {list(allowed)}, got {value!r}")
        return value
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(_coerce(f"{where}[{i}]", item, v) for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        return _coerce(where, next(a for a in args if a is not type(None)), value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def _plain(value: Any) -> Any:
    """Config values as YAML-friendly builtins (tuples become lists, configs dicts)."""
    if isinstance(value, Config):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


class Config:
    """Mixin for frozen dataclass configs: ``from_dict`` / ``to_dict`` with key checking."""

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        """Build the config from a mapping; unknown or missing keys raise :class:`ConfigError`."""
        name = cls.__name__
        if not isinstance(data, Mapping):
            raise ConfigError(f"{name}: expected a mapping, got {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(str(k) for k in data if k not in fields)
        if unknown:
            raise ConfigError(f"{name}: unknown key(s) {unknown}; known keys are {sorted(fields)}")
        missing = sorted(
            k
            for k, f in fields.items()
            if k not in data
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        )
        if missing:
            raise ConfigError(f"{name}: missing required key(s) {missing}")
        hints = typing.get_type_hints(cls)
        kwargs = {k: _coerce(f"{name}.{k}", hints[k], v) for k, v in data.items()}
        return cls(**kwargs)

    @classmethod
    def from_yaml(cls: type[C], path: str | os.PathLike) -> C:
        """Build the config from a YAML file; every problem is a :class:`ConfigError` that
        names the file."""
        data = load_yaml(path)
        try:
            return cls.from_dict(data)
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None

    def to_dict(self) -> dict[str, Any]:
        """The config as a plain dict that :meth:`from_dict` (and ``yaml.safe_dump``) accept."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


def check(condition: bool, where: str, message: str) -> None:
    """Raise :class:`ConfigError` ``"{where}: {message}"`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(f"{where}: {message}")


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """The mapping in a YAML file (``yaml.safe_load``); a :class:`ConfigError` naming the file
    if it cannot be read, is not YAML or is not a mapping."""
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a YAML mapping, got {data!r}")
    return data
