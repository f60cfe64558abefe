"""The rule names a provider README's rule table lists, for the test that keeps the table
and the rule cases naming the same rules (docs/writing-a-target.md, section 5)."""

from __future__ import annotations

import re
from pathlib import Path

SECTION = "## Cloud rules plan and the emulator both enforce"


def readme_rule_names(readme: Path) -> list[str]:
    """The `rule-name` in the first column of each row, in order, up to the section's first
    subheading; asserts that no name appears twice."""
    section = readme.read_text(encoding="utf-8").split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \|", section.split("\n### ", 1)[0], flags=re.M)
    assert len(rows) == len(set(rows)), f"a rule appears twice in the table of {readme}"
    return rows
