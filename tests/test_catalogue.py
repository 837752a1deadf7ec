"""The cue catalogue: the bundled texts, and clear errors for a broken file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from companion.drift import load_rules
from companion.faults import Fault
from cues.catalogue import CatalogueError, Category, load_catalogue


def test_bundled_catalogue_answers_every_fault_the_rules_can_raise() -> None:
    catalogue = load_catalogue()
    for fault in Fault:
        cue = catalogue.for_fault(fault)
        assert cue is not None and cue.category is Category.FORM, fault
    for rule in load_rules():
        assert all(catalogue.for_fault(f) for f in rule.faults.values())


def test_cues_are_short_and_escalations_differ() -> None:
    for cue in load_catalogue():
        for text in cue.say + cue.escalate:
            assert len(text) <= 55, text  # about two seconds spoken (checked in test_speech)
        assert not set(cue.say) & set(cue.escalate)


GOOD = """
[[cue]]
id = "run-tall"
category = "form"
priority = 50
cooldown_s = 60
answers = ["forward_lean"]
say = ["Run tall."]
escalate = ["Taller."]
"""


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda s: s.replace('escalate = ["Taller."]', ""), "cue run-tall: .*needs 'escalate'"),
        (lambda s: s.replace("priority = 50", "priority = 500"), "cue run-tall: field 'priority'"),
        (
            lambda s: s.replace('category = "form"', 'category = "chat"'),
            "cue run-tall: field 'category'",
        ),
        (lambda s: s.replace('say = ["Run tall."]', "say = []"), "cue run-tall: field 'say'"),
        (lambda s: s.replace('id = "run-tall"', 'id = "Run Tall"'), "field 'id'"),
        (lambda s: s + s, "cue run-tall: the id is used twice"),
        (lambda s: s.replace("[[cue]]", "[[cue]"), "not valid TOML"),
        (lambda s: s.replace("Run tall.", "x" * 120), "cue run-tall: .*1 to 80 characters"),
        (
            lambda s: s.replace("cooldown_s = 60", 'cooldown_s = 60\ncolour = "red"'),
            "field 'colour'",
        ),
    ],
)
def test_broken_catalogue_names_file_cue_and_field(
    tmp_path: Path, edit: Callable[[str], str], problem: str
) -> None:
    path = tmp_path / "cues.toml"
    path.write_text(GOOD)
    assert load_catalogue(path)["run-tall"].say == ("Run tall.",)
    path.write_text(edit(GOOD))
    with pytest.raises(CatalogueError, match=problem) as caught:
        load_catalogue(path)
    assert str(path) in str(caught.value)


def test_missing_catalogue_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read"):
        load_catalogue(tmp_path / "nope.toml")
