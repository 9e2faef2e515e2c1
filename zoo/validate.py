"""Checks plain values (parsed YAML or JSON) against a config dataclass before anything is built from them.

One generic walk over the dataclass's fields and type hints collects every problem as ``(key path, message)``, so
a user sees them all at once. A field's type hint says what it takes: ``int``, ``float`` (an int too), ``str``,
``bool``, ``X | None``, ``tuple[X, ...]`` (a list), ``dict[str, X]``, ``dict`` (any mapping), ``Literal[...]``, a
nested config dataclass (a mapping of its fields; empty when null), and ``Annotated[X, Range(...)]`` or
``Annotated[X, OneOf(...)]`` for the values it allows.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Any, Collection

Problem = tuple[str, str]
"""``(key path, message)``: ``("stages.predictor.epochs", "expected an integer, got 'two'")``."""


@dataclasses.dataclass(frozen=True)
class Range:
    """The interval a number must lie in, as type-hint metadata: ``Annotated[int, Range(1)]`` is at least 1.

    Attributes:
        low, high: bounds (None: unbounded).
        open_low, open_high: the bound itself is excluded (``Range(0, open_low=True)``: positive).
    """

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def problem(self, value: float) -> str | None:
        """Why ``value`` is outside the interval, or None when it is inside."""
        if not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return f"must be {'greater than' if self.open_low else 'at least'} {self.low}, got {value!r}"
        if self.high is not None and (value >= self.high if self.open_high else value > self.high):
            return f"must be {'less than' if self.open_high else 'at most'} {self.high}, got {value!r}"
        return None


@dataclasses.dataclass(frozen=True)
class OneOf:
    """The values a field allows, as type-hint metadata: ``Annotated[str, OneOf(PRESETS)]`` (a dict's keys, kept
    as a tuple)."""

    choices: Collection

    def __post_init__(self):
        object.__setattr__(self, "choices", tuple(self.choices))  # hashable, as typing needs metadata to be

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed (listing the choices and the closest one), or None when it is."""
        if value in self.choices:
            return None
        return f"{value!r} is not one of {sorted(self.choices)}{did_you_mean(value, self.choices)}"


class ConfigError(ValueError):
    """A config's problems; its message says ``what`` is invalid, then one line per problem.

    Attributes:
        problems: the ``(key path, message)`` pairs, in the order found.
    """

    def __init__(self, what: str, problems: list[Problem], lines: list[str] | None = None):
        """``lines``: the problems as printed (default ``"key: message"`` each)."""
        self.problems = problems
        lines = lines or [f"{key or '(top level)'}: {message}" for key, message in problems]
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{what} is invalid ({count}):\n" + "\n".join(f"  {line}" for line in lines))


def check(cls: type, values: Any, key: str = "") -> list[Problem]:
    """The problems of ``values`` as the fields of dataclass ``cls`` (an empty list when there are none).

    Args:
        values: a mapping of field name -> value (None counts as an empty mapping).
        key: the key path of ``values`` in the whole config, prefixed to every problem's key.
    Returns:
        ``(key path, message)`` per unknown key (suggesting the closest known one), missing required field, value
        of the wrong type, and value outside its ``Range`` or ``OneOf``; nested values are checked in turn.
    """
    if values is None:
        values = {}
    if not isinstance(values, dict):
        return [(key, f"expected a mapping of {sorted(f.name for f in dataclasses.fields(cls))}, got {values!r}")]
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    problems = []
    for name, value in values.items():
        where = f"{key}.{name}" if key else str(name)
        if name not in fields:
            problems.append((where, f"unknown key{did_you_mean(name, fields) or f'; known: {sorted(fields)}'}"))
        else:
            problems += check_value(hints[name], value, where)
    for name, field in fields.items():
        if name not in values and field.default is dataclasses.MISSING \
                and field.default_factory is dataclasses.MISSING:
            problems.append((f"{key}.{name}" if key else name, "required, missing"))
    return problems


def check_value(hint: Any, value: Any, key: str) -> list[Problem]:
    """The problems of one ``value`` against type hint ``hint`` (see the module's list), keyed ``key``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        problems = check_value(args[0], value, key)
        rules = [rule.problem(value) for rule in args[1:] if not problems and hasattr(rule, "problem")]
        return problems + [(key, message) for message in rules if message]
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if value is None and len(options) < len(args):
            return []
        return check_value(options[0] if len(options) == 1 else typing.Any, value, key)
    if origin is typing.Literal:
        return [] if value in args else [(key, OneOf(args).problem(value))]
    if dataclasses.is_dataclass(hint):
        return check(hint, value, key)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return [(key, f"expected a list, got {value!r}")]
        return [p for i, item in enumerate(value) for p in check_value(args[0], item, f"{key}[{i}]")]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            return [(key, f"expected a mapping, got {value!r}")]
        return [p for name, item in value.items()
                for p in check_value(args[0], name, f"{key}.{name}") + check_value(args[1], item, f"{key}.{name}")
                ] if args else []
    expected = _SCALARS.get(hint)
    if expected and not expected[1](value):
        quoted = "" if hint is not float or not isinstance(value, str) or not _is_number(value) else \
            " (text: write the number without quotes" + (", with a dot: YAML reads 1e-3 as text, 1.0e-3 as a number)"
                                                         if "e" in value.lower() and "." not in value else ")")
        return [(key, f"expected {expected[0]}, got {value!r}{quoted}")]
    return []


def _is_number(text: str) -> bool:
    """Whether ``text`` reads as a float (``"1e-3"``, which YAML 1.1 leaves a string)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


_SCALARS = {
    bool: ("true or false", lambda v: isinstance(v, bool)),
    int: ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    float: ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    str: ("a string", lambda v: isinstance(v, str)),
}
"""Scalar type -> (what it is called in a message, whether a value is one)."""


def did_you_mean(name: Any, known: Collection) -> str:
    """``"; did you mean 'x'?"`` for the known name closest to ``name``, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
