"""``wangge deadline``: JSON keys, due times, exit 2 for bad input (on a fresh Typer app)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from api.cli.deadline import deadline_command

app = typer.Typer()


@app.callback()
def _main() -> None:
    """Test app."""


app.command("deadline")(deadline_command)
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["deadline", *args])


def test_json_has_exactly_due_and_working_days():
    result = run("--severity", "general", "--reported-at", "2025-09-30T16:00:00+08:00", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"due", "working_days"}
    assert payload["due"] == "2025-10-11T23:59:59+08:00"
    assert payload["working_days"] == ["2025-10-09", "2025-10-10", "2025-10-11"]


def test_major_naive_time_same_day():
    result = run("--severity", "major", "--reported-at", "2025-10-02T09:15", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"due": "2025-10-02T23:59:59+08:00", "working_days": []}


def test_text_output_starts_with_the_due_time():
    result = run("--severity", "general", "--reported-at", "2025-03-07T10:00:00")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "2025-03-12T23:59:59+08:00"
    assert "2025-03-10, 2025-03-11, 2025-03-12" in result.stdout


def test_office_hours_option():
    result = run(
        "--severity", "general", "--reported-at", "2025-03-07T10:00",
        "--office-hours", "09:00-12:00,13:30-17:30", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["due"] == "2025-03-12T17:30:00+08:00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--severity", "general", "--reported-at", "30/09/2025"], "invalid time"),
        (["--severity", "urgent", "--reported-at", "2025-09-30T10:00"], "severity must be"),
        (
            ["--severity", "major", "--reported-at", "2025-09-30", "--office-hours", "9-5"],
            "invalid office window",
        ),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(args, message):
    result = run(*args, "--json")
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())  # rich may wrap the line
    assert result.stdout == ""


def test_missing_option_exits_2():
    assert run("--severity", "general").exit_code == 2


def test_year_without_calendar_data_warns_on_stderr():
    result = run("--severity", "general", "--reported-at", "2027-09-30T10:00", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["due"] == "2027-10-05T23:59:59+08:00"
    assert "cn_workdays_2027.csv" in " ".join(result.stderr.split())
