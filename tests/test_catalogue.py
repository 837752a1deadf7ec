"""The cue catalogue: the bundled texts, and clear errors for a broken file."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from companion.form.rules import load_rules
from cues.catalogue import DEFAULT_CATALOGUE, SAID, CatalogueError, Category, load_catalogue
from cues.faults import Fault
from tests.conftest import ROOT


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


BUNDLED = DEFAULT_CATALOGUE.read_text()
RUN_TALL = """[[cue]]
id = "run-tall"
category = "form"
priority = 55
cooldown_s = 75
answers = ["forward_lean"]
say = ["Run tall. Ribs over your hips.", "Run tall and stacked."]
escalate = ["Grow tall from the top of your head.", "Chest up. Keep your hips under you."]
"""
assert RUN_TALL in BUNDLED
AT = BUNDLED.splitlines().index('id = "run-tall"')  # lines of the cue: AT + 1 is its id


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            lambda s: s.replace("escalate = [", "# escalate = ["),
            f"cue run-tall: at line {AT}: a form cue needs 'escalate'",
        ),
        (
            lambda s: s.replace("priority = 55", "priority = 500"),
            f"cue run-tall: field 'priority' at line {AT + 3}: must be at most 100$",
        ),
        (
            lambda s: s.replace('category = "form"', 'category = "chat"'),
            "cue run-tall: field 'category' at line .*: must be 'form', 'confirmation'",
        ),
        (
            lambda s: s.replace("say = [", "say = [] # ["),
            "cue run-tall: field 'say' .*: must have at least 1 item$",
        ),
        (
            lambda s: s.replace('id = "run-tall"', 'id = "Run Tall"'),
            f"field 'id' at line {AT + 1}: 'Run Tall' is not an id",
        ),
        (
            lambda s: s + "\n" + s,
            f"cue run-tall at line {AT + 10}: the id is used twice",
        ),
        (lambda s: s.replace("[[cue]]", "[[cue]"), "not valid TOML"),
        (
            lambda s: s.replace("Run tall and stacked.", "x" * 120),
            "cue run-tall: field 'say' .*1 to 80 characters",
        ),
        (
            lambda s: s.replace("cooldown_s = 75", 'cooldown_s = 75\ncolour = "red"'),
            f"field 'colour' at line {AT + 5}: unknown field 'colour' \\(it takes: id, category",
        ),
        (
            lambda s: s.replace("cooldown_s = 75", "cooldown_s = inf"),
            "field 'cooldown_s' .*: must be a finite number",
        ),
        (
            lambda s: s.replace('["forward_lean"]', '["forward_lean", "slouch"]'),
            f"field 'answers, item 2' at line {AT + 5}: must be 'forward_lean', 'anterior_tilt', "
            "'overstride', 'bounce', 'glutes_off' or 'shoulder_tension'$",
        ),
        (
            lambda s: s.replace("Run tall and stacked.", "Tall at {pace}."),
            "field 'say' .*: wording 'Tall at {pace}.' uses {pace}, which cue 'run-tall' is "
            "not given \\(its placeholders: none\\)",
        ),
        (
            lambda s: s.replace("Run tall and stacked.", "Tall {."),
            "field 'say' .*: wording 'Tall {.' has a { or } that is not a placeholder",
        ),
    ],
)
def test_broken_catalogue_names_file_cue_line_and_field(
    tmp_path: Path, edit: Callable[[str], str], problem: str
) -> None:
    path = tmp_path / "cues.toml"
    path.write_text(BUNDLED)
    assert load_catalogue(path)["run-tall"].say == (
        "Run tall. Ribs over your hips.",
        "Run tall and stacked.",
    )
    path.write_text(BUNDLED.replace(RUN_TALL, edit(RUN_TALL)))
    with pytest.raises(CatalogueError, match=problem) as caught:
        load_catalogue(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_every_cue_the_product_says_is_in_the_catalogue(tmp_path: Path) -> None:
    """And the catalogue's list of them holds every id the code says."""
    said = set()
    for module in (ROOT / "companion").rglob("*.py"):
        code = module.read_text()
        for first in re.findall(r"announce\(\s*([^,]*),", code):  # "a" if lost else "b"
            said |= set(re.findall(r'"([a-z-]+)"', first))
        said |= set(re.findall(r'load_catalogue\([^)]*\)\["([a-z-]+)"\]', code))
    assert said == set(SAID)
    assert said <= set(load_catalogue().cues)

    path = tmp_path / "cues.toml"
    path.write_text(re.sub(r'\[\[cue\]\]\nid = "split-time"\n.*?\n\n', "", BUNDLED, flags=re.S))
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    assert str(caught.value) == (
        f"{path}: the coach says these cues by id and they are missing: split-time "
        "(the bundled catalogue.toml has them to copy)"
    )
    path.write_text(re.sub(r'\[\[cue\]\]\nid = "well-done"\n.*?\n\n', "", BUNDLED, flags=re.S))
    with pytest.raises(CatalogueError, match="no confirmation cue"):
        load_catalogue(path)


def test_missing_catalogue_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read"):
        load_catalogue(tmp_path / "nope.toml")
