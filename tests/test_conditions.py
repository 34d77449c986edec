"""The conditions file: read through its schema; every mistake is one line naming the file, the field and the fix."""

from __future__ import annotations

import re

import pytest

from flygnn.conditions import Condition, load_conditions
from flygnn.errors import FlygnnError


def conditions_file(tmp_path, entries: str):
    path = tmp_path / "conditions.yaml"
    path.write_text("conditions:\n" + entries)
    return path


def refusal(path) -> str:
    with pytest.raises(FlygnnError) as refused:
        load_conditions(path)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_a_valid_file_gives_its_conditions_in_order(tmp_path):
    path = conditions_file(
        tmp_path, "  - {name: sigma-0, sigma: 0}\n  - {name: sigma-0p5, sigma: 0.5, label: '$\\sigma$ = 0.5'}\n"
    )
    assert load_conditions(path) == [
        Condition("sigma-0", 0.0, "σ = 0"),
        Condition("sigma-0p5", 0.5, "$\\sigma$ = 0.5"),
    ]


def test_sigma_in_exponent_notation_is_a_number(tmp_path):
    # YAML 1.1 (PyYAML) reads 5e-2, without a dot, as the string '5e-2'
    (condition,) = load_conditions(conditions_file(tmp_path, "  - name: sigma-0p05\n    sigma: 5e-2\n"))
    assert condition.sigma == 0.05 and condition.label == "σ = 0.05"


@pytest.mark.parametrize(
    "entry, field, expected",
    [
        ("{name: bad, sigma: -0.5}", "conditions #1.sigma", r"greater than or equal to 0 \(got -0.5\)"),
        ("{name: bad, sigma: lots}", "conditions #1.sigma", r"valid number.*'lots'"),
        ("{name: bad, sigma: yes}", "conditions #1.sigma", "boolean"),
        ("{name: bad, sigma: .nan}", "conditions #1.sigma", "finite"),
        ("{name: Bad, sigma: 0.5}", "conditions #1.name", "lower-case letters, digits and dashes"),
        ("{name: bad}", "conditions #1.sigma", "Field required"),
        ("{name: bad, sigma: 0.5, colour: red}", "conditions #1.colour", r"allowed: name, sigma, label"),
    ],
)
def test_a_bad_field_is_named_with_the_fix(tmp_path, entry, field, expected):
    message = refusal(conditions_file(tmp_path, f"  - {entry}\n"))
    assert f", {field}: " in message
    assert re.search(expected, message), message


def test_a_300_character_name_is_refused_before_any_file_is_named_after_it(tmp_path):
    message = refusal(conditions_file(tmp_path, f"  - {{name: {'a' * 300}, sigma: 0.5}}\n"))
    assert "conditions #1.name: String should have at most 64 characters" in message
    assert len(message) < 400  # the value is shortened, not repeated whole


def test_a_label_that_is_not_valid_mathtext_is_refused_at_load(tmp_path):
    message = refusal(conditions_file(tmp_path, '  - {name: s, sigma: 0.5, label: "σ = $x"}\n'))
    assert "conditions #1.label: 'σ = $x' is not valid matplotlib mathtext" in message
    assert "pair every $" in message
    # an escaped dollar is text
    assert load_conditions(conditions_file(tmp_path, '  - {name: s, sigma: 0.5, label: "costs \\\\$5"}\n'))


def test_a_name_given_twice_is_refused(tmp_path):
    message = refusal(conditions_file(tmp_path, "  - {name: s, sigma: 0.5}\n  - {name: s, sigma: 0.1}\n"))
    assert "condition name(s) ['s'] appear more than once" in message


def test_a_binary_conditions_file_is_refused_with_a_message(tmp_path):
    path = tmp_path / "conditions.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    assert "is not a text file" in refusal(path)


def test_a_conditions_file_name_too_long_for_the_filesystem_is_refused(tmp_path):
    path = tmp_path / ("c" * 300 + ".yaml")
    with pytest.raises(FlygnnError, match=r"cannot read .*\(File name too long\); check the --conditions-file path"):
        load_conditions(path)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", r"the document: Input should be a valid dictionary \(got None\); expected a mapping with 'conditions:'"),
        ("conditions: []\n", "conditions: List should have at least 1 item"),
        ("conditions:\n  - name: s\n   sigma: [\n", "is not valid YAML: .* at line 3, column 4; fix the syntax there"),
    ],
)
def test_an_empty_or_malformed_file_is_refused(tmp_path, text, expected):
    path = tmp_path / "conditions.yaml"
    path.write_text(text)
    assert re.search(expected, refusal(path))
