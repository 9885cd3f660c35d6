"""The README opens with the two commands; CI runs the second one exactly."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)


def test_readme_opens_with_two_self_sufficient_commands():
    commands = readme_commands()
    assert len(commands) >= 2
    for command in commands[:2]:
        assert command.startswith("python3 -m venv .venv && "), command
        assert "\n" not in command


def test_ci_runs_the_readme_test_command_exactly():
    test_command = readme_commands()[1]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines
