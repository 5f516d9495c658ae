"""Thresholds parsed, not guessed (issue 14): every operator, ranges, negative numbers,
percentages, units of time, size and rate with conversion, and the direction assumed (and
said) when no operator is written. Pure, no I/O."""

from __future__ import annotations

import pytest

from so1.agents.triage.facts import metric_direction
from so1.agents.triage.knowledge import knowledge
from so1.agents.triage.thresholds import Breach, compare
from so1.agents.triage.values import Quantity, Threshold, parse_quantity, parse_threshold


def read(value: object, threshold: object, metric: str = "") -> Breach:
    kn = knowledge()
    return compare(
        parse_quantity(value, kn.states),
        parse_threshold(threshold, kn.states),
        metric_direction(metric, kn),
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12%", Quantity(12.0, "%")),
        ("< 1%", Quantity(1.0, "%", "<")),
        ("500ms", Quantity(500.0, "ms")),
        (">= 0.9", Quantity(0.9, "", ">=")),
        ("2s", Quantity(2000.0, "ms")),
        ("0.75s", Quantity(750.0, "ms")),
        ("1.5 min", Quantity(90000.0, "ms")),
        ("4min", Quantity(240000.0, "ms")),
        ("2h", Quantity(7_200_000.0, "ms")),
        ("250us", Quantity(0.25, "ms")),
        ("up == 1", Quantity(1.0, "", "==")),
        ("p99 < 500ms", Quantity(500.0, "ms", "<")),
        ("5,000", Quantity(5000.0)),
        ("1.2k", Quantity(1200.0)),
        ("-12000", Quantity(-12000.0)),
        ("> -100", Quantity(-100.0, "", ">")),
        ("\u22125", Quantity(-5.0)),
        ("3.8GB", Quantity(3.8 * 1024**3, "B")),
        ("512 MiB", Quantity(512 * 1024**2, "B")),
        ("480 req/s", Quantity(480.0, "/s")),
        ("1200 rpm", Quantity(20.0, "/s")),
        ("600/min", Quantity(10.0, "/s")),
        ("30 msgs/min", Quantity(0.5, "/s")),
        ("10MB/s", Quantity(10 * 1024**2, "B/s")),
        ("≤ 5", Quantity(5.0, "", "<=")),
        ("=> 3", Quantity(3.0, "", ">=")),
        ("= 0", Quantity(0.0, "", "==")),
        ("below 1%", Quantity(1.0, "%", "<")),
        ("at least 3", Quantity(3.0, "", ">=")),
        ("3x", Quantity(3.0, "x")),
        (42, Quantity(42.0)),
        (0.62, Quantity(0.62)),
        (True, Quantity(1.0)),
        ("down", Quantity(0.0)),
        ("healthy", Quantity(1.0)),
        ("N/A", None),
        ("", None),
        (None, None),
        ("twelve", None),
        ("12 parsecs", None),
        ("9" * 500, None),
    ],
)
def test_value_parsing(raw: object, expected: Quantity | None) -> None:
    assert parse_quantity(raw, knowledge().states) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10-20", Threshold("range", Quantity(10.0), Quantity(20.0), "10-20")),
        (
            "200-500ms",
            Threshold("range", Quantity(200.0, "ms"), Quantity(500.0, "ms"), "200-500ms"),
        ),
        ("10..20%", Threshold("range", Quantity(10.0, "%"), Quantity(20.0, "%"), "10..20%")),
        (
            "between 2min and 5min",
            Threshold(
                "range", Quantity(120000.0, "ms"), Quantity(300000.0, "ms"), "between 2min and 5min"
            ),
        ),
        ("[40, 60]", Threshold("range", Quantity(40.0), Quantity(60.0), "[40, 60]")),
        ("-20 - -10", Threshold("range", Quantity(-20.0), Quantity(-10.0), "-20 - -10")),
        ("< 1%", Threshold("<", Quantity(1.0, "%"), None, "< 1%")),
        ("-12000", Threshold(None, Quantity(-12000.0), None, "-12000")),
        (0, Threshold(None, Quantity(0.0), None, "0")),
        ("20-10", None),
        ("1e-5", Threshold(None, Quantity(1e-5), None, "1e-5")),
    ],
)
def test_threshold_parsing(raw: object, expected: Threshold | None) -> None:
    assert parse_threshold(raw) == expected


@pytest.mark.parametrize(
    ("value", "threshold", "state", "ratio"),
    [
        # the examples: the operator is the healthy condition
        ("12%", "< 1%", "breached", 12.0),
        ("-12000", "> -100", "breached", 120.0),
        ("4min", "< 2min", "breached", 2.0),
        ("0.75s", "< 500ms", "breached", 1.5),
        ("99.2%", ">= 99.9%", "breached", 8.0),
        # every operator, both sides
        ("0.4%", "< 1%", "within", 0.4),
        ("1%", "< 1%", "breached", 1.0),
        ("1%", "<= 1%", "within", 1.0),
        ("2%", "<= 1%", "breached", 2.0),
        ("3", "> 3", "breached", 1.0),
        ("4", "> 3", "within", 0.75),
        ("3", ">= 3", "within", 1.0),
        ("1", ">= 3", "breached", 3.0),
        ("0", "== 1", "breached", None),
        ("1", "== 1", "within", None),
        ("0", "!= 0", "breached", None),
        ("2", "!= 0", "within", None),
        # ranges: healthy inside
        ("25", "10-20", "breached", 1.25),
        ("5", "10-20", "breached", 2.0),
        ("15", "10-20", "within", None),
        ("700ms", "200-500ms", "breached", 1.4),
        # units converted; a bare number takes the threshold's unit
        ("2s", "< 500ms", "breached", 4.0),
        ("8", "< 1%", "breached", 8.0),
        ("99.0%", ">= 99.9%", "breached", 10.0),
        ("1200 rpm", "< 10/s", "breached", 2.0),
        ("2GB", "< 512MB", "breached", 4.0),
        ("12%", "500ms", "unknown", None),
        # against 0 the distance means nothing
        ("3", "< 0", "breached", None),
    ],
)
def test_reading_against_the_threshold(
    value: str, threshold: str, state: str, ratio: float | None
) -> None:
    result = read(value, threshold)
    assert result.state == state
    if ratio is None:
        assert result.ratio is None or state == "unknown"
    else:
        assert result.ratio == pytest.approx(ratio)


@pytest.mark.parametrize("metric", ["cpu_utilization", "error_rate", "availability", "mystery"])
def test_a_written_operator_is_never_overridden_by_the_metric_name(metric: str) -> None:
    assert read("0.62", "> 0.9", metric).state == "breached"
    assert read("0.95", "> 0.9", metric).state == "within"
    assert read("12%", "< 1%", metric).state == "breached"


def test_the_reading_says_how_the_threshold_was_read() -> None:
    said = read("12%", "< 1%").reading
    assert said == (
        'threshold "< 1%" read as the healthy condition (operator <): healthy below 1%; '
        "12% breaches it"
    )
    assert "healthy from 10 to 20; 25 breaches it (above the range)" in read("25", "10-20").reading


@pytest.mark.parametrize(
    ("value", "threshold", "metric", "said"),
    [
        (
            "40",
            "0",
            "errors",
            "assumed higher is worse because the alert fired with 40 at or above 0",
        ),
        ("40", "0", "", "assumed higher is worse because the alert fired with 40"),
        ("2", "5", "free_disk_gb", "assumed lower is worse because the alert fired with 2 below 5"),
        ("2", "5", "", "assumed lower is worse because the alert fired with 2 below 5"),
        (
            "8",
            "5",
            "replicas_available",
            'the metric name "replicas_available" suggests the opposite',
        ),
    ],
)
def test_no_operator_says_which_direction_was_assumed_and_why(
    value: str, threshold: str, metric: str, said: str
) -> None:
    """The alert fired, so with no operator the value's side is the bad one; a metric name
    that suggests otherwise is said, never used to call the alert healthy."""
    result = read(value, threshold, metric)
    assert result.state == "breached"
    assert f'threshold "{threshold}" has no operator' in result.reading
    assert said in result.reading
