"""The configuration file: defaults, a schema with clear errors, and the runs that use it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from companion.config import Config, SoundConfig, SpeechConfig, as_toml, load_config
from companion.paths import config_path
from companion.run.options import configured_voice
from cues.speech import Engine
from cues.words import KINDS, plain
from tests.conftest import ROOT
from tests.test_cli import COMPANION, companion

# pydantic's own phrasing, which must never reach a runner.
LIBRARY_WORDS = (
    r"Input should|instance of|Extra inputs|Field required|String should|List should|"
    r"Tuple should|Value error|unable to|valid dictionary|<class"
)


def write_config(text: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_no_file_means_every_default(tmp_path: Path) -> None:
    assert config_path() == Path(os.environ["XDG_CONFIG_HOME"]) / "posture-companion/config.toml"
    assert load_config() == Config()
    done = companion("config", "check")
    assert done.returncode == 0 and "the defaults are in effect" in done.stdout
    done = companion("config", "show")
    assert "[sound]" in done.stdout and "duck_level = 0.3" in done.stdout


def test_what_show_prints_reads_back_as_the_same_settings(tmp_path: Path) -> None:
    path = write_config('[speech]\nvoice = "gmw/en-us"\n\n[sound]\nmetronome_beats = 12\n')
    done = companion("config", "show")
    copy = tmp_path / "copy.toml"
    copy.write_text(done.stdout)
    assert load_config(copy) == load_config(path) != Config()
    sections = re.findall(r"^\[(\w+)\]$", as_toml(load_config(path)), re.M)
    assert sections == ["speech", "sound", "coach", "schedule", "daemon", "history"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[sound\n", "not valid TOML: .*line 1"),
        ("[sound]\nduck_level = 2\n", "line 2, field sound.duck_level: must be at most 1$"),
        ('[speech]\nvoice = "x"\nrate = "fast"\n', "line 3, field speech.rate: must be a whole"),
        (
            "[sound]\nvolume_up = true\n",
            "line 2, field sound.volume_up: unknown setting 'volume_up' "
            r"\(it takes: audio, pre_roll_s, duck_level, headphones_only, metronome_beats, "
            r"loudness_lufs, true_peak_db\)",
        ),
        ("[music]\nloud = true\n", r"line 1, field music: unknown section 'music' \(the file"),
        (
            '[speech]\nengine = "pyttsx3"\nvoice = "my.onnx"\n',
            "field speech: 'my.onnx' is a Piper voice file, which the pyttsx3 engine cannot speak",
        ),
        ("speech = 3\n", r"line 1, field speech: must be a section of settings \(\[name\]"),
        ("[speech]\nvoice = 3\n", "line 2, field speech.voice: must be text"),
        ("[coach]\nwarmup_s = nan\n", "line 2, field coach.warmup_s: must be a finite number"),
        ("[coach]\nbaseline_s = inf\n", "line 2, field coach.baseline_s: must be a finite"),
        ('[sound]\naudio = "loud"\n', "field sound.audio: must be 'auto', 'device' or 'files'"),
        ("[sound]\nheadphones_only = 2.5\n", "field sound.headphones_only: must be true or false"),
        ('[schedule]\ndrill_reminders = "7:30"\n', "drill_reminders: must be a list"),
        (
            '[schedule]\ndrill_reminders = ["07:30", "7:3"]\n',
            "line 2, field schedule.drill_reminders: '7:3' is not a time of day",
        ),
        ("[coach]\ncues = 3\n", "line 2, field coach.cues: must be a file's path"),
    ],
)
def test_a_broken_file_is_refused_with_file_line_and_field(text: str, problem: str) -> None:
    path = write_config(text)
    done = companion("config", "check")
    assert done.returncode == 2
    assert str(path) in done.stderr
    (line,) = done.stderr.splitlines()  # one line, no traceback
    assert re.search(problem, line), line
    assert not re.search(LIBRARY_WORDS, line), line
    # A run does not start on it either.
    done = companion("demo", "--speed", "0", "--audio", "files")
    assert done.returncode == 2 and str(path) in done.stderr


def test_a_run_uses_the_file_and_the_command_line_wins(tmp_path: Path) -> None:
    text = '[coach]\nwarmup_s = 30\n\n[sound]\naudio = "files"\nmetronome_beats = 8\n'
    path = write_config(text)
    before = path.stat().st_mtime_ns
    out = tmp_path / "wavs"
    done = companion("demo", "--speed", "0", "--json", "--out", str(out))
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    (baseline,) = [e for e in events if e["kind"] == "baseline"]
    assert baseline["t"] < 180  # 30 s of warm-up, not 60
    assert [e["beats"] for e in events if e["kind"] == "metronome"]
    assert all(e["beats"] == 8 for e in events if e["kind"] == "metronome")
    assert any(out.iterdir())  # WAV files, as the file says
    done = companion("demo", "--speed", "0", "--json", "--out", str(out), "--metronome", "0")
    assert not [e for e in map(json.loads, done.stdout.splitlines()) if e["kind"] == "metronome"]
    # The product reads the runner's file and never writes it.
    assert path.read_text() == text and path.stat().st_mtime_ns == before


def test_the_example_in_the_readme_is_a_valid_file(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"```toml\n(.*?)```", readme, re.S)
    assert match
    example = tmp_path / "example.toml"
    example.write_text(match.group(1))
    config = load_config(example)
    # Its values are the defaults, but for the voice and the reminders it shows.
    assert config.schedule.drill_reminders == ("07:30", "12:30", "19:00")
    shown = {"speech": Config().speech, "schedule": Config().schedule}
    assert config.model_copy(update=shown) == Config()


def _schemas() -> list[type[BaseModel]]:
    from companion.daemon import control
    from companion.form.rules import DriftRule
    from cues.catalogue import Cue
    from cues.drills import SessionInfo, Step

    sections: list[type[BaseModel]] = [type(model) for _, model in Config()]
    requests: list[type[BaseModel]] = [control.Start, control.Say, control.Drill, control.Status]
    return [Config, *sections, Cue, DriftRule, Step, SessionInfo, *requests]


# Values of every TOML and JSON kind, and numbers no setting takes.
WRONG: list[object] = [
    "x",
    "",
    "a" * 300,
    1.5,
    -1,
    10**6,
    float("nan"),
    float("inf"),
    True,
    [],
    [1],
    ["x"] * 10,
    {"a": 1},
    None,
]


@pytest.mark.parametrize("model", _schemas(), ids=lambda m: m.__name__)
def test_every_error_a_schema_can_raise_is_said_in_plain_words(model: type[BaseModel]) -> None:
    seen: set[str] = set()
    for name in [*model.model_fields, "colour"]:
        for wrong in WRONG:
            try:
                model.model_validate({name: wrong})
            except ValidationError as err:
                for e in err.errors():
                    words = plain(e, model)
                    assert e["type"] in KINDS, (e["type"], e["msg"])
                    assert not re.search(LIBRARY_WORDS, words), words
                    assert words and words != e["msg"], e
                    seen.add(e["type"])
    assert "extra_forbidden" in seen  # "colour" is never a field


def without_cue(text: str, cue_id: str) -> str:
    """A catalogue's text without one cue's entry."""
    return re.sub(
        rf'\[\[cue\]\]\nid = "{cue_id}"\n.*?(?=\n\[\[cue\]\]|\n#|\Z)', "", text, flags=re.S
    )


def test_the_files_the_configuration_names_are_checked_with_it(tmp_path: Path) -> None:
    config = write_config('[coach]\ncues = "my-cues.toml"\n')
    cues = config.parent / "my-cues.toml"  # beside the configuration, wherever one starts

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [COMPANION, "config", "check"], capture_output=True, text=True, cwd=tmp_path
        )

    named = f"companion: {config}: line 2, field coach.cues names a file: "  # where it starts
    done = check()
    assert done.returncode == 2
    assert done.stderr == f"{named}{cues}: cannot read the file: No such file or directory\n"

    bundled = (ROOT / "cues" / "catalogue.toml").read_text()
    cues.write_text(bundled.replace("Ribs down. Squeeze your glutes.", "Ribs in, pelvis level."))
    done = check()
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{config}: fine\n  cue catalogue: {cues}: fine\n"
    listed = subprocess.run(
        [COMPANION, "cues", "list", "--json"], capture_output=True, text=True, cwd=tmp_path
    )
    assert "Ribs in, pelvis level." in [
        json.loads(row)["text"] for row in listed.stdout.splitlines()
    ]
    assert f'cues = "{cues}"' in companion("config", "show").stdout

    # A catalogue without cues the coach says by id: refused at once, naming them.
    cues.write_text(without_cue(without_cue(bundled, "warmup"), "checkin"))
    missing = f"{cues}: the coach says these cues by id and they are missing: "
    missing += "warmup, checkin (the bundled catalogue.toml has them to copy)\n"
    assert check().stderr == named + missing
    missing = "companion: " + missing
    done = companion("demo", "--speed", "0", "--audio", "files", "--out", str(tmp_path))
    assert (done.returncode, done.stderr) == (2, missing)

    # A cue answering a fault the coach does not know: refused at its line.
    text = bundled.replace('answers = ["bounce"]', 'answers = ["slouch"]')
    cues.write_text(text)
    line = text.splitlines().index('answers = ["slouch"]') + 1
    done = check()
    assert done.returncode == 2
    assert done.stderr == (
        f"{named}{cues}: cue stay-low: field 'answers, item 1' at line {line}: must be "
        "'forward_lean', 'anterior_tilt', 'overstride', 'bounce', 'glutes_off' or "
        "'shoulder_tension'\n"
    )

    # Rules whose fault no cue answers: the catalogue and the rules do not fit together.
    cues.write_text(bundled.replace('answers = ["anterior_tilt"]', 'answers = ["bounce"]'))
    done = check()
    assert done.returncode == 2
    assert done.stderr == (
        f"companion: no cue in {cues} answers the fault anterior_tilt, which the drift rules "
        "can raise\n"
    )

    # Rules named the same way, checked the same way.
    config.write_text('[coach]\nrules = "rules/mine.toml"\n')
    rules = config.parent / "rules" / "mine.toml"
    rules.parent.mkdir()
    rules.write_text('[[rule]]\nmetric = "lean_deg"\ndirection = "up"\n')
    done = check()
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"companion: {config}: line 2, field coach.rules names a file: {rules}: rule #1: "
        "field 'direction' at line 3: "
    )


LIGHT = """
import sys
from companion.cli.main import main
status = main(sys.argv[1:])
heavy = sorted(m for m in ("scipy", "matplotlib", "bleak", "bumble") if m in sys.modules)
print(status, heavy)
"""


def test_a_refusal_or_a_check_loads_nothing_it_does_not_need(tmp_path: Path) -> None:
    """Checking a file, or refusing one, is quick: the analysis, the plots and Bluetooth are
    imported only by the commands that use them (an error path once took three seconds)."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[sound]\nheadphones_only = 2.5\n")
    for args in (["config", "check", str(bad)], ["config", "path"], ["history"]):
        done = subprocess.run(
            [sys.executable, "-c", LIGHT, *args], capture_output=True, text=True, timeout=60
        )
        assert done.stdout.split("\n")[-2].endswith(" []"), (args, done.stdout, done.stderr)
    # A run on a broken configuration is refused before the analysis is loaded.
    write_config(bad.read_text())
    for args in (["demo", "--speed", "0"], ["replay", str(bad)]):
        done = subprocess.run(
            [sys.executable, "-c", LIGHT, *args], capture_output=True, text=True, timeout=60
        )
        assert done.stdout.split("\n")[-2] == "2 []", (args, done.stdout, done.stderr)
        assert "field sound.headphones_only" in done.stderr
    # So is a recording that cannot be read, by every command that reads one.
    write_config("")
    unread = tmp_path / "run.csv"
    unread.write_text("time,x\n0,1\n")
    for args in (["analyze", str(unread)], ["replay", str(unread)], ["import", str(unread)]):
        done = subprocess.run(
            [sys.executable, "-c", LIGHT, *args], capture_output=True, text=True, timeout=60
        )
        assert done.stdout.split("\n")[-2] == "2 []", (args, done.stdout, done.stderr)
        assert "no 't_s' column" in done.stderr


@pytest.mark.parametrize(
    ("voice", "engine", "expected"),
    [
        ("gmw/en-us", "piper", ("piper", None)),  # the file's espeak-ng voice gives way
        ("/voices/mine.onnx", "pyttsx3", ("pyttsx3", None)),  # and so does its Piper file
        ("gmw/en-us", "pyttsx3", ("pyttsx3", "gmw/en-us")),  # a voice the engine speaks stays
        ("gmw/en-us", None, ("pyttsx3", "gmw/en-us")),  # the voice brings its engine
    ],
)
def test_an_engine_on_the_command_line_wins_over_the_files_voice(
    voice: str, engine: Engine | None, expected: tuple[str, str | None]
) -> None:
    speech, sound = SpeechConfig(voice=voice), SoundConfig()
    chosen = configured_voice(speech, sound, engine=engine)
    assert (chosen.engine, chosen.voice) == expected
