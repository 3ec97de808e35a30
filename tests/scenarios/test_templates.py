"""Templates and conditions: parsing, rendering, and their one-line errors."""

from __future__ import annotations

import pytest

from sagasim.scenarios.templates import (
    Ref,
    Template,
    TemplateError,
    parse_condition,
    parse_template,
    parse_value,
    refs_in,
    render_value,
)

SCOPE = {
    "payload": {"amount": 500, "sku": "widget", "tags": ["a", "b"], "gift": None},
    "steps": {"charge": "ch_1", "trial": None, "hold": {"id": "hold_3"}},
    "instance": "inst-7",
    "attempt": 2,
}


def test_a_lone_placeholder_keeps_the_type_of_its_value():
    """A lone placeholder, "{payload.amount}", renders to the integer."""
    assert 500 == parse_template("{payload.amount}").render(SCOPE)


def test_placeholders_inside_text_are_joined_as_text():
    """Each placeholder becomes text; null and true are written as in JSON."""
    template = parse_template(
        "{instance}:{steps.charge} x{payload.amount} {steps.trial}"
    )

    assert "inst-7:ch_1 x500 null" == template.render(SCOPE)


def test_a_string_without_placeholders_stays_a_string():
    """Double braces are literal braces; nothing is left to render."""
    assert "a {b} c" == parse_template("a {{b}} c")


def test_paths_go_down_dicts_and_lists_and_stop_at_null():
    """A list is indexed by number; a path through null gives null."""
    assert "b" == parse_template("{payload.tags.1}").render(SCOPE)
    assert "hold_3" == parse_template("{steps.hold.id}").render(SCOPE)
    assert None is parse_template("{steps.trial.payload.plan}").render(SCOPE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{payload.missing}", "{payload.missing}: payload has no field 'missing'"),
        ("{payload.tags.5}", "{payload.tags.5}: payload.tags has 2 items, no item 5"),
        (
            "{payload.amount.cents}",
            "{payload.amount.cents}: payload.amount is the number 500, "
            "it has no field 'cents'",
        ),
    ],
)
def test_a_path_to_nothing_is_a_render_error(text, message):
    """A missing key or index names the path and what was found instead."""
    with pytest.raises(TemplateError) as caught:
        parse_template(text).render(SCOPE)

    assert message == str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{payload.amount",
            "a '{' without its '}' at character 1 of '{payload.amount'",
        ),
        ("amount}", "a '}' without its '{' at character 7 of 'amount}'"),
        ("x {} y", "an empty placeholder '{}' in 'x {} y'"),
        ("{pay load}", "{pay load} in '{pay load}' is not a dotted path"),
        ("{a..b}", "{a..b} in '{a..b}' is not a dotted path"),
    ],
)
def test_a_malformed_template_is_a_parse_error(text, message):
    """Unbalanced braces, empty placeholders and bad paths are refused."""
    with pytest.raises(TemplateError) as caught:
        parse_template(text)

    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_parse_value_parses_nested_strings_and_says_where_a_bad_one_is():
    """Tables and arrays are walked; an error carries its place inside them."""
    parsed = parse_value({"to": "{payload.sku}", "items": [1, "{instance}"]})

    assert {"to": "widget", "items": [1, "inst-7"]} == render_value(parsed, SCOPE)
    assert [("to", Ref(("payload", "sku"))), ("items[1]", Ref(("instance",)))] == list(
        refs_in(parsed)
    )
    with pytest.raises(TemplateError) as caught:
        parse_value({"items": [1, {"x": "{"}]})
    assert "items[1].x" == caught.value.where


def test_templates_are_values_that_compare_equal():
    """Two parses of one string give equal templates (specs are comparable)."""
    assert parse_template("{instance}") == parse_template("{instance}")
    assert isinstance(parse_template("{instance}"), Template)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{steps.trial} != null or {payload.amount} > 100", True),
        ("{steps.trial} != null", False),
        ("not {steps.trial}", True),
        ("{payload.sku} == 'widget' and {attempt} >= 2", True),
        ('{payload.sku} == "gadget"', False),
        ("({payload.amount} < 100 or {steps.charge}) and not {payload.gift}", True),
        ("true", True),
        ("{payload.amount} == 500.0", True),
        ("-1 < 0", True),
    ],
)
def test_conditions_evaluate_comparisons_and_logic(text, expected):
    """==, !=, <, <=, >, >=, and, or, not and parentheses, over JSON literals."""
    assert expected is parse_condition(text).evaluate(SCOPE)


def test_a_condition_lists_its_placeholders():
    """refs gives every placeholder, for the loader to check its names."""
    condition = parse_condition("{steps.a} == 1 or not ({payload.b} and {instance})")

    assert [("steps", "a"), ("payload", "b"), ("instance",)] == [
        ref.path for ref in condition.refs
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "an empty condition"),
        ("{a} ==", "condition '{a} ==' ends too early"),
        ("{a} {b}", "unexpected {b} in condition '{a} {b}'"),
        ("({a}", "a '(' without its ')' in condition '({a}'"),
        ("paid", "unknown word 'paid' in condition 'paid'"),
        ("{a} = 1", "cannot read '= 1' in condition '{a} = 1'"),
    ],
)
def test_a_malformed_condition_is_a_parse_error(text, message):
    """Syntax errors are one line that quotes the condition."""
    with pytest.raises(TemplateError) as caught:
        parse_condition(text)

    assert str(caught.value).startswith(message)


def test_ordering_values_of_different_types_is_a_render_error():
    """null < 3 cannot be decided; the error says what was compared."""
    with pytest.raises(TemplateError) as caught:
        parse_condition("{steps.trial} < 3").evaluate(SCOPE)

    assert "'{steps.trial} < 3': cannot compare null < 3" == str(caught.value)
