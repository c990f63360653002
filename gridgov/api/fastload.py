"""A shortcut past marshmallow's load for flat schemas, taken only by bodies that need no conversion.

marshmallow loads a field through a chain of calls (deserialize, validated, each validator, error
bookkeeping): for a report's fourteen fields, a tenth of a millisecond on every report. Most bodies
are plain JSON whose values already have their field's type; for those the outcome is known in
advance — the same dict marshmallow would give — and `loader_for(schema)` computes it directly.

Anything it does not vouch for returns None, and the caller loads with marshmallow, which converts
("12.5" to 12.5) or refuses (with its messages) as always: a missing required field, a value of
another type, a value a validator refuses, None where it is not allowed. A schema it does not fully
understand (another field or validator type, data_key/attribute, schema hooks) gets no shortcut at all.
"""
from __future__ import annotations

import math
from typing import Callable

import marshmallow as ma
from marshmallow import validate

Loader = Callable[[dict], "dict | None"]


def loader_for(schema: ma.Schema) -> Loader | None:
    """A function body → loaded dict (or None: ask marshmallow), or None if the schema is not flat
    and plain enough to be loaded here."""
    if any(schema._hooks.values()):
        return None
    steps = []
    for name, field in schema.load_fields.items():
        if field.data_key is not None or field.attribute is not None:
            return None
        check = _checker(field)
        if check is None:
            return None
        default = field.load_default
        steps.append((name, field.required, field.allow_none, default, check))

    def load(data: dict) -> dict | None:
        result = {}
        for name, required, allow_none, default, check in steps:
            if name not in data:
                if required:
                    return None
                if default is not ma.missing:
                    result[name] = default() if callable(default) else default
                continue
            value = data[name]
            if value is None:
                if not allow_none:
                    return None
                result[name] = None
                continue
            value = check(value)
            if value is _REFUSED:
                return None
            result[name] = value
        return result

    return load


_REFUSED = object()


def _checker(field: ma.fields.Field):
    """value → the loaded value, or _REFUSED; None if this field type or a validator is unknown."""
    convert = _converter(field)
    if convert is None:
        return None
    tests = []
    for validator in field.validators:
        test = _validator_test(validator)
        if test is None:
            return None
        tests.append(test)

    def check(value):
        value = convert(value)
        if value is _REFUSED:
            return _REFUSED
        for test in tests:
            if not test(value):
                return _REFUSED
        return value

    return check


def _converter(field: ma.fields.Field):
    kind = type(field)
    if kind is ma.fields.String:
        return lambda value: value if type(value) is str else _REFUSED
    if kind is ma.fields.Float:
        allow_nan = field.allow_nan

        def to_float(value):
            if type(value) not in (int, float):  # bool is refused by marshmallow too; strings convert there
                return _REFUSED
            try:
                number = float(value)
            except OverflowError:
                return _REFUSED
            if allow_nan is False and not math.isfinite(number):
                return _REFUSED
            return number

        return to_float
    if kind is ma.fields.Integer:
        return lambda value: value if type(value) is int else _REFUSED
    if kind is ma.fields.Boolean:
        return lambda value: value if type(value) is bool else _REFUSED
    return None


def _validator_test(validator):
    kind = type(validator)
    if kind is validate.Length and validator.equal is None:
        low, high = validator.min, validator.max
        return lambda value: (low is None or len(value) >= low) and (high is None or len(value) <= high)
    if kind is validate.OneOf:
        choices = validator.choices
        return lambda value: value in choices
    if kind is validate.Range:
        low, high = validator.min, validator.max
        low_in, high_in = validator.min_inclusive, validator.max_inclusive

        def in_range(value):
            if low is not None and (value < low if low_in else value <= low):
                return False
            if high is not None and (value > high if high_in else value >= high):
                return False
            return True

        return in_range
    return None
