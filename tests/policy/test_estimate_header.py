"""The ``-- estimate:`` header line: accepted when well formed, a ``bad_header`` otherwise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from cleanroom.errors import TemplateRejected
from cleanroom.policy import parse_template_file
from cleanroom.specs import EstimateSpec
from tests.policy.template_grammar import estimate_lines

BODY = "SELECT SUM(amount_cents) AS sales, SUM(amount_cents) AS refunds FROM transactions\n"


def test_a_valid_estimate_line_reaches_the_source() -> None:
    source = parse_template_file("-- estimate: Sales 0.99 0.1\n" + BODY)
    assert source.estimates == {"sales": EstimateSpec("sales", 0.99, 0.1)}
    assert source.has_header
    assert source.to_dict()["estimates"] == [{"output": "sales", "quantile": 0.99, "share": 0.1}]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["-- estimate: sales 0.99"], "an estimate line is 'output quantile share'"),
        (["-- estimate: sales 0.99 0.1 x"], "an estimate line is 'output quantile share'"),
        (["-- estimate: sales high 0.1"], "must be numbers"),
        (["-- estimate: sales 0.5 0.1"], "quantile must be greater than 0.5 and less than 1"),
        (["-- estimate: sales 1 0.1"], "quantile must be greater than 0.5 and less than 1"),
        (["-- estimate: sales nan 0.1"], "quantile must be greater than 0.5 and less than 1"),
        (["-- estimate: sales 0.99 0"], "share of the run's epsilon must be greater than 0"),
        (["-- estimate: sales 0.99 0.6"], "at most 0.5"),
        (["-- estimate: sales 0.99 inf"], "at most 0.5"),
        (["-- estimate: sales 0.99 0.1", "-- estimate: sales 0.9 0.1"], "two estimate lines"),
        (["-- estimate: sales 0.99 0.3", "-- estimate: refunds 0.9 0.3"], "add up to more"),
    ],
)
def test_malformed_estimate_lines_are_bad_headers(lines: list[str], message: str) -> None:
    with pytest.raises(TemplateRejected) as caught:
        parse_template_file("\n".join(lines) + "\n" + BODY)
    (violation,) = caught.value.violations
    assert violation.code == "bad_header"
    assert message in violation.message
    assert violation.line == len(lines)


@settings(max_examples=200, deadline=None)
@given(estimate_lines(("sales", "refunds")))
def test_grammar_estimate_lines_accepted_or_refused(case: tuple[str, bool]) -> None:
    line, valid = case
    if not valid:
        with pytest.raises(TemplateRejected) as caught:
            parse_template_file(line + "\n" + BODY)
        assert [v.code for v in caught.value.violations] == ["bad_header"]
    else:
        source = parse_template_file(line + "\n" + BODY)
        (spec,) = source.estimates.values()
        assert 0.5 < spec.quantile < 1
        assert 0 < spec.share <= 0.5
