"""The shortcut past marshmallow (gridgov.api.fastload) answers exactly as marshmallow does, or steps aside."""
import math

import marshmallow as ma
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov.api.fastload import loader_for
from gridgov.api.schemas import ReportSchema

SCHEMA = ReportSchema()
FAST = loader_for(SCHEMA)


def marshmallow_load(body):
    try:
        return SCHEMA.load(body, unknown=ma.EXCLUDE)
    except ma.ValidationError:
        return "refused"


def same(a, b):
    """Equal, NaN included (a NaN longitude is loaded as NaN by both, and refused later)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b and type(a) is type(b)


TYPICAL = {"category": "0102", "description": "暴露垃圾，路边堆放", "lon": 120.1, "lat": 30.2, "urgency": 1,
           "address": "人民路", "client_uuid": "a-1f2e", "accuracy_m": 12}


def test_the_report_schema_has_a_shortcut_and_a_typical_body_takes_it():
    assert FAST is not None
    loaded = FAST(dict(TYPICAL))
    assert loaded is not None and same(loaded, marshmallow_load(dict(TYPICAL)))
    assert type(loaded["accuracy_m"]) is float and loaded["crs"] == "wgs84" and loaded["self_resolve"] is False


@pytest.mark.parametrize("change", [
    {"lon": "120.1"},            # a string number: marshmallow converts it
    {"urgency": 2.0},            # a float urgency: marshmallow decides
    {"urgency": True},           # bool is not a number for either
    {"lon": True},
    {"description": ""},         # refused by a validator
    {"category": "0"},
    {"category": None},          # None where not allowed
    {"accuracy_m": -1},
    {"accuracy_m": float("inf")},
    {"source": "nobody"},
    {"self_resolve": "true"},
    {"lon": 10 ** 400},          # too large for a float
])
def test_anything_unusual_is_left_to_marshmallow(change):
    body = dict(TYPICAL, **change)
    assert FAST(body) is None
    marshmallow_load(body)  # and marshmallow answers it (converted or refused)


def test_missing_required_fields_and_defaults():
    body = {k: v for k, v in TYPICAL.items() if k != "lat"}
    assert FAST(body) is None and marshmallow_load(body) == "refused"
    minimal = {"category": "0102", "description": "d", "lon": 1, "lat": 2}
    assert same(FAST(minimal), marshmallow_load(minimal))


def test_a_schema_it_does_not_understand_gets_no_shortcut():
    class WithHook(ma.Schema):
        name = ma.fields.String()

        @ma.post_load
        def upper(self, data, **kwargs):
            return {k: v.upper() for k, v in data.items()}

    class WithEmail(ma.Schema):
        email = ma.fields.Email()

    class WithKey(ma.Schema):
        name = ma.fields.String(data_key="Name")

    class WithRegexp(ma.Schema):
        name = ma.fields.String(validate=ma.validate.Regexp("^a"))

    assert all(loader_for(cls()) is None for cls in (WithHook, WithEmail, WithKey, WithRegexp))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10 ** 30, max_value=10 ** 30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)
FIELD_VALUES = {
    "category": st.text(max_size=10) | JSON_VALUES,
    "description": st.text(max_size=30) | JSON_VALUES,
    "lon": st.floats(allow_nan=True) | st.integers() | JSON_VALUES,
    "lat": st.floats(allow_nan=True) | st.integers() | JSON_VALUES,
    "urgency": st.integers(min_value=-1, max_value=4) | JSON_VALUES,
    "accuracy_m": st.floats() | st.integers(min_value=-5, max_value=200000) | JSON_VALUES,
    "self_resolve": st.booleans() | JSON_VALUES,
    "source": st.sampled_from(["grid_worker", "hotline", "api", "x"]) | JSON_VALUES,
}


@st.composite
def bodies(draw):
    body = {}
    for name in SCHEMA.load_fields:
        if draw(st.integers(0, 9)) < 8:
            body[name] = draw(FIELD_VALUES.get(name, st.text(max_size=120) | JSON_VALUES))
    if draw(st.booleans()):
        body["unknown_key"] = draw(JSON_VALUES)
    return body


@settings(max_examples=600, deadline=None)
@given(bodies())
def test_whenever_the_shortcut_answers_it_answers_as_marshmallow(body):
    fast = FAST(dict(body))
    if fast is not None:
        assert same(fast, marshmallow_load(dict(body)))
