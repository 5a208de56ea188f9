"""SSMSpec: bounds, allowed values and cross-field checks give one clear error."""

import json

import pytest

from workbench.errors import SpecError
from workbench.specs import SSMSpec


def test_defaults_validate_and_roundtrip():
    spec = SSMSpec().validate()
    again = SSMSpec.from_dict(json.loads(spec.to_json()))
    assert again.to_dict() == spec.to_dict()


@pytest.mark.parametrize(
    "values, field, words",
    [
        ({"dt_min": 0.5, "dt_max": 0.1}, "ssm.dt_min", "<= ssm.dt_max"),
        ({"r_min": 0.99, "r_max": 0.9}, "ssm.r_min", "<= ssm.r_max"),
        ({"d_state": 7}, "ssm.d_state", "even"),
        ({"init": "hippo-fout", "d_state": 5}, "ssm.d_state", "even"),
        ({"init": "nope"}, "ssm.init", "one of s4d-legs"),
        ({"d_state": 0}, "ssm.d_state", "[1, 4096]"),
        ({"d_state": "x"}, "ssm.d_state", "an integer"),
        ({"dt_min": 0}, "ssm.dt_min", "(0, inf]"),
        ({"r_max": 1.0}, "ssm.r_max", "(0, 1)"),
        ({"learn_a": "maybe"}, "ssm.learn_a", "true or false"),
        ({"bogus": 1}, "ssm.bogus", "a field of SSMSpec"),
    ],
)
def test_bad_values_name_field_value_and_allowed(values, field, words):
    with pytest.raises(SpecError) as err:
        SSMSpec.from_dict(values)
    msg = str(err.value)
    assert err.value.field == field and words in msg and "\n" not in msg
    assert repr(err.value.value) in msg


def test_odd_state_allowed_for_real_modes():
    assert SSMSpec.from_dict({"init": "s4d-real", "d_state": 7}).d_state == 7
    assert SSMSpec.from_dict({"init": "lru-ring", "d_state": 7}).d_state == 7


def test_text_values_are_coerced():
    spec = SSMSpec.from_dict({"d_state": "32", "dt_min": "1e-2", "learn_a": "false"})
    assert (spec.d_state, spec.dt_min, spec.learn_a) == (32, 0.01, False)
