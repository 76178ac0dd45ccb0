"""Every option's shown default comes from the settings objects, so help cannot drift."""

from __future__ import annotations

import re
from dataclasses import fields

import pytest
from typer.testing import CliRunner

from streamlab.cli import app
from streamlab.durations import describe
from streamlab.raw.config import GeneratorConfig
from streamlab.settings import PipelineConfig

PIPELINE = PipelineConfig()
GENERATOR = GeneratorConfig()


def _duration(ms: int | None) -> str:
    return "off" if ms is None else describe(ms)


# option -> the settings field it stands for, rendered as the help shows a duration
PIPELINE_OPTIONS = {
    "--watermark-delay": _duration(PIPELINE.watermark_delay_ms),
    "--window": _duration(PIPELINE.window_ms),
    "--sliding-window": _duration(PIPELINE.sliding_window_ms),
    "--slide": _duration(PIPELINE.slide_ms),
    "--impressions-delay": _duration(PIPELINE.impressions_delay_ms),
    "--clicks-delay": _duration(PIPELINE.clicks_delay_ms),
    "--click-window": _duration(PIPELINE.click_window_ms),
    "--max-skew": _duration(PIPELINE.max_skew_ms),
}
SECONDS = {"lateness_min", "lateness_max", "batch_interval"}
GENERATOR_OPTIONS = {
    "--" + f.name.replace("_", "-"): (
        describe(getattr(GENERATOR, f.name) * 1000)
        if f.name in SECONDS
        else str(getattr(GENERATOR, f.name))
    )
    for f in fields(GeneratorConfig)
    if f.name not in {"base_time", "recent", "click_window", "impression_spread", "users", "ads"}
    and not f.name.startswith("future_m")
}


def _shown_defaults(*command: str) -> dict[str, str]:
    """Return each option's ``[default: X]`` as the command's help prints it."""
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    options = result.output.split("Options:", 1)[1]
    flat = " ".join(options.split())  # help wraps: join every entry onto one line
    shown: dict[str, str] = {}
    for entry in re.split(r" (?=--[a-z][\w-]* )", " " + flat):
        match = re.match(r"(--[\w-]+) .*?\[default: ([^\]]+)\]", entry.strip())
        if match:
            shown[match.group(1)] = match.group(2)
    return shown


@pytest.mark.parametrize("command", [("run",), ("lab",)])
def test_pipeline_options_show_the_settings_defaults(command: tuple[str, ...]) -> None:
    shown = _shown_defaults(*command)
    for option, expected in PIPELINE_OPTIONS.items():
        if option in shown:
            assert shown[option] == expected, (command, option)
    assert shown["--watermark-delay"] == "10m"  # the guide's delay, as the README states it


def test_model_commands_show_the_settings_defaults() -> None:
    for command in (("explain",), ("report",), ("compare-windows",)):
        shown = _shown_defaults(*command)
        if "--watermark-delay" in shown:
            assert shown["--watermark-delay"] == PIPELINE_OPTIONS["--watermark-delay"], command
    assert _shown_defaults("explain")["--click-window"] == PIPELINE_OPTIONS["--click-window"]
    compare = _shown_defaults("compare-windows")
    assert compare["--window"] == PIPELINE_OPTIONS["--sliding-window"]
    assert compare["--slide"] == PIPELINE_OPTIONS["--slide"]


def test_generator_options_show_the_generator_defaults() -> None:
    shown = _shown_defaults("setup")
    assert GENERATOR_OPTIONS, "no generator option found"
    for option, expected in GENERATOR_OPTIONS.items():
        assert shown.get(option) == expected, option


def test_the_old_watermark_spelling_still_works_and_is_hidden() -> None:
    runner = CliRunner()
    for command in ("explain", "compare-windows", "report"):
        help_text = runner.invoke(app, [command, "--help"]).output
        assert "--watermark-delay" in help_text
        assert not re.search(r"--watermark\s", help_text), command
    # a bad value names the option; both spellings reach the same parser
    for spelling in ("--watermark", "--watermark-delay"):
        result = runner.invoke(app, ["explain", spelling, "soon"])
        assert result.exit_code == 2, result.output
        assert "--watermark-delay" in result.output
