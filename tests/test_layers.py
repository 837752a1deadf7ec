"""The packages import one way: `companion` may use `cues` and `sensors`, never the other
way round, and `sensors` knows nothing of `cues`. Read from the source, so a test of the
tree rather than of what one run happened to import."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import ROOT

BELOW = {"sensors": {"companion", "cues"}, "cues": {"companion"}}  # what each may not import


def imported(path: Path) -> set[str]:
    """The top-level packages a module imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_lower_packages_do_not_import_higher_ones() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {', '.join(sorted(imported(path) & banned))}"
        for package, banned in BELOW.items()
        for path in sorted((ROOT / package).rglob("*.py"))
        if imported(path) & banned
    ]
    assert wrong == []


def test_nothing_reaches_outside_the_repository() -> None:
    """A stranger's clone has no folders beside it: everything is read from inside."""
    outside = re.compile(r"\.\./shared|\"shared\" */ *\"data\"|parents?(\[\d\])? */ *\"shared\"")
    reaching = [
        str(path.relative_to(ROOT))
        for folder in ("companion", "cues", "sensors", "tests", "bench")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != Path(__file__) and outside.search(path.read_text(encoding="utf-8"))
    ]
    assert reaching == []
