"""`companion cues list|say|render`: the catalogue as a coach edits and hears it."""

from __future__ import annotations

import json
from pathlib import Path

from cues.catalogue import load_catalogue
from cues.wavfile import wav_duration
from tests.conftest import assert_speech
from tests.test_cli import companion


def test_list_shows_every_wording_with_its_length() -> None:
    done = companion("cues", "list", "--json")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    catalogue = load_catalogue()
    assert {r["id"] for r in rows} == {c.id for c in catalogue}
    assert len(rows) == sum(len(c.say) + len(c.escalate) for c in catalogue)
    assert all("{" not in r["text"] for r in rows)  # placeholders filled with an example
    form = [r for r in rows if r["category"] == "form"]
    assert form and all(0.5 < r["seconds"] < 3.0 for r in form)


def test_say_speaks_a_cue_into_a_wav_file(tmp_path: Path) -> None:
    done = companion(
        "cues", "say", "ribs-down", "--all", "--audio", "files", "--out", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    files = sorted(tmp_path.iterdir())
    assert len(files) == 4  # two wordings and two escalations
    for path in files:
        assert_speech(path, max_s=3.0)


def test_render_writes_every_wording(tmp_path: Path) -> None:
    done = companion("cues", "render", "--out", str(tmp_path / "all"))
    assert done.returncode == 0, done.stderr
    files = list((tmp_path / "all").glob("*.wav"))
    assert len(files) == sum(len(c.say) + len(c.escalate) for c in load_catalogue())
    assert any(p.name.startswith("ribs-down-escalate-") for p in files)


def test_an_unknown_cue_is_named_with_the_ones_there_are() -> None:
    done = companion("cues", "say", "nope", "--audio", "files")
    assert done.returncode != 0
    assert "no cue 'nope'" in done.stderr and "ribs-down" in done.stderr


def test_voice_and_rate_are_the_runners_choice(tmp_path: Path) -> None:
    lengths = {}
    for rate in ("130", "220"):
        out = tmp_path / rate
        done = companion(
            "cues", "say", "ribs-down", "--voice", "gmw/en-us", "--voice-rate", rate,
            "--audio", "files", "--out", str(out),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        (path,) = out.iterdir()
        lengths[rate] = wav_duration(path)
    assert lengths["220"] < 0.8 * lengths["130"]
    # A voice espeak-ng lacks: said in one line, and the neural voice speaks in its place.
    out = tmp_path / "stand-in"
    done = companion(
        "cues", "say", "ribs-down", "--voice", "no-such", "--audio", "files", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.splitlines()
    assert "espeak-ng has no voice 'no-such'" in line and "Piper en_US-joe-medium speaks" in line
    (path,) = out.iterdir()
    assert wav_duration(path) > 0.4
    # A voice the engine asked for cannot speak: refused before anything is said.
    done = companion("cues", "say", "ribs-down", "--voice-engine", "piper", "--voice", "en")
    assert done.returncode == 2
    assert "'en' is an espeak-ng voice name, which the piper engine cannot speak" in done.stderr
