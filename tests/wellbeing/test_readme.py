"""The README starts with the two commands and documents every setting the product reads."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def test_first_section_gives_the_demo_and_test_commands_in_fenced_blocks() -> None:
    first = README.index("\n## ")
    assert README[first:].startswith("\n## The two commands\n")
    blocks = re.findall(r"```sh\n(.*?)```", _section("The two commands"), re.S)
    assert [b.strip() for b in blocks] == ["make demo", "make test"]
    # .ci/run runs exactly the README's test command
    assert (ROOT / ".ci/run").read_text().rstrip().splitlines()[-1] == "make test"


def test_every_environment_variable_of_the_settings_is_documented() -> None:
    source = (ROOT / "wellbeing/settings.py").read_text()
    read = set(re.findall(r"env_(?:str|int|bool|list)\(\s*\"([A-Z0-9_]+)\"", source))
    table = _section("Configuration")
    missing = sorted(name for name in read if f"`{name}`" not in table)
    assert read and missing == []
