"""Drill sessions: the bundled files, the checks on a runner's own, and the timeline's
promises (nothing overlaps, every switch and next-up said, countdowns end at zero)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile

from companion.coaching.advice import Drift, advise
from companion.drills.player import DrillPlayer, timed, write_session
from companion.drills.timeline import COUNTDOWN_S, READY_S, Timeline, build_timeline
from companion.outputs import vet_file, write_new
from cues.audio import Clip, WavFileSink
from cues.drills import (
    BUNDLED,
    DrillError,
    bundled_sessions,
    find_session,
    load_session,
)
from cues.earcons import synthesize
from cues.faults import Fault
from cues.speaker import Speaker
from cues.speech import SpeechRenderer
from cues.wavfile import read_wav
from tests.conftest import QUICK_VOICE, speech_level
from tests.pulse import PulseSink
from tests.test_audio import onset
from tests.test_cli import COMPANION, companion

SESSIONS = {s.id: s for s in bundled_sessions()}


def test_the_bundled_sessions_are_all_there_and_valid() -> None:
    assert set(SESSIONS) == {
        "posture-walk",
        "hip-mobility-strength",
        "spine-shoulder-mobility",
        "shoulder-trunk-strength",
        "daily-routine",
    }
    faults = {f.value for f in Fault}
    for session in SESSIONS.values():
        assert set(session.info.addresses) <= faults, session.id
    daily = SESSIONS["daily-routine"].steps
    mobility = [i for i, s in enumerate(daily) if s.hold_s is not None]
    strength = [i for i, s in enumerate(daily) if s.reps is not None]
    assert mobility and strength and max(mobility) < min(strength)  # mobility first
    bridges = [s.level for s in SESSIONS["hip-mobility-strength"].steps if "bridge" in s.name]
    assert bridges == sorted(bridges) and len(set(bridges)) == 3  # easy to hard


@pytest.fixture(scope="module", params=sorted(SESSIONS))
def timeline(request: pytest.FixtureRequest) -> Timeline:
    return build_timeline(SESSIONS[request.param])


def blocks(tl: Timeline) -> list[tuple[int, int, int]]:
    """(go, zero or last count, index) of each piece of work, by mark index."""
    marks = tl.marks
    gos = [i for i, m in enumerate(marks) if m.label == "go"]
    out = []
    for n, g in enumerate(gos):
        stop = gos[n + 1] if n + 1 < len(gos) else len(marks)
        work = [i for i in range(g, stop) if marks[i].label in ("count", "zero")]
        out.append((g, work[-1], n))
    return out


def test_nothing_overlaps_and_the_length_is_known_ahead(timeline: Timeline) -> None:
    marks = timeline.marks
    for before, after in itertools.pairwise(marks):
        assert after.t >= before.end - 1e-9, (before, after)
    assert timeline.total_s == pytest.approx(marks[-1].end)
    assert marks[0].label == "start" and marks[-1].label == "end"
    assert any(m.label == "safety" and "hurts, stop" in m.what for m in marks)


def test_the_work_lasts_what_the_step_says(timeline: Timeline) -> None:
    marks = timeline.marks
    steps = timeline.session.steps
    for go, last, _ in blocks(timeline):
        step = steps[marks[go].step]
        begins = marks[go].end
        ticks = [m for m in marks[:go] if m.label == "ready"][-READY_S:]
        assert [round(marks[go].t - m.t) for m in ticks] == [3, 2, 1]
        if step.reps is not None:
            counts = [m for m in marks[go : last + 1] if m.label == "count"]
            assert [m.what for m in counts] == [str(k) for k in range(1, step.reps + 1)]
            for k, m in enumerate(counts):
                assert m.t == pytest.approx(begins + k * step.tempo_s)
        else:
            assert marks[last].t - begins == pytest.approx(step.hold_s or step.duration_s)


def test_countdowns_end_at_zero(timeline: Timeline) -> None:
    marks = timeline.marks
    zeros = [i for i, m in enumerate(marks) if m.label == "zero"]
    assert bool(zeros) == any(s.reps is None for s in timeline.session.steps)
    for z in zeros:
        said = [m for m in marks[:z] if m.label == "countdown"][-COUNTDOWN_S:]
        assert [m.what for m in said] == ["3", "2", "1"]
        assert [round(marks[z].t - m.t, 6) for m in said] == [3, 2, 1]
    # Rests tick their last seconds away too, and what follows comes on the second after.
    for i, m in enumerate(marks):
        if m.label == "rest-countdown" and marks[i + 1].label != "rest-countdown":
            assert [round(m.t - marks[i - k].t, 6) for k in (2, 1)] == [2, 1]
            assert marks[i + 1].t == pytest.approx(m.t + 1)


def test_every_switch_and_next_up_is_said(timeline: Timeline) -> None:
    marks = timeline.marks
    steps = timeline.session.steps
    for i, step in enumerate(steps):
        switches = [m for m in marks if m.step == i and m.label == "switch"]
        assert len(switches) == (step.sets if step.sides == "both" else 0)
    work = blocks(timeline)
    nexts = [m for m in marks if m.label == "next"]
    assert len(nexts) == len(work) - 1  # after every piece of work but the last
    for (_, last, n), said in zip(work, nexts, strict=False):
        following = marks[work[n + 1][0]]
        assert marks[last].end <= said.t < following.t
        assert steps[following.step].name in said.what


def test_a_session_is_found_by_name_or_path(tmp_path: Path) -> None:
    assert find_session("posture-walk").title == "Posture walk"
    own = tmp_path / "mine.toml"
    own.write_text((BUNDLED / "posture-walk.toml").read_text().replace("posture-walk", "mine"))
    assert find_session(str(own)).id == "mine"
    assert find_session("mine", (tmp_path,)).id == "mine"
    with pytest.raises(DrillError, match=r"no drill session 'dance'.*posture-walk"):
        find_session("dance")


GOOD = (BUNDLED / "shoulder-trunk-strength.toml").read_text()


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda s: s.replace("reps = 12", "reps = 12\nhold_s = 30"),
         r"step 'Band pull-apart': at line 10: give exactly one of reps, hold_s"),
        (lambda s: s.replace("level = 2", "level = 9"),
         r"step 'Prone pull-through': field 'level' at line 35: must be at most 5$"),
        (lambda s: s.replace("tempo_s = 3", "tempo = 3"),
         r"step 'Band pull-apart': field 'tempo' at line 17: unknown field 'tempo' "
         r"\(it takes: name, instructions"),
        (lambda s: s.replace('id = "shoulder-trunk-strength"', 'id = "Shoulders!"'),
         r"session: field 'id' at line 4"),
        (lambda s: s.replace("[session]", "[sesion]"), r"'sesion' at line 3 is not part"),
        (lambda s: s.replace("[[step]]", "[[steps]]"), r"'steps' at line 10 is not part"),
        (lambda s: s.replace("sets = 2", "sets = 'two'"), r"field 'sets' at line 18"),
        (lambda s: s + "\n[[step]]\nname = 'x'\n", r"step 'x': field 'instructions' at line"),
        (lambda s: s.replace("[session]", "[session"), r"not valid TOML"),
        (lambda s: s.replace('"forward_lean"]', '"hunch"]'),
         r"session: field 'addresses, item 2' at line 8: must be 'forward_lean', .*"
         r"or 'shoulder_tension'$"),
        (lambda s: s.replace("rest_s = 30", "rest_s = nan", 1),
         r"field 'rest_s' at line \d+: must be a finite number"),
    ],
)  # fmt: skip
def test_a_broken_session_file_is_refused_precisely(
    tmp_path: Path, edit: object, problem: str
) -> None:
    path = tmp_path / "broken.toml"
    assert callable(edit)
    path.write_text(edit(GOOD))
    with pytest.raises(DrillError, match=problem) as caught:
        load_session(path)
    assert str(caught.value).startswith(f"{path}: ")


TINY = """
[session]
id = "tiny"
title = "Tiny"
about = "Two short steps, for the tests."

[[step]]
name = "Wall sit"
instructions = ["Back to the wall, knees bent."]
hold_s = 8
rest_s = 5
cues = ["Breathe."]

[[step]]
name = "Squats"
instructions = ["Feet apart. Sit back and stand."]
reps = 3
tempo_s = 2
"""


def played(folder: Path) -> list[str]:
    """The labels of what a WAV file sink wrote, in the order heard."""
    return [p.stem.split("-", 2)[2] for p in sorted(folder.glob("*.wav"))]


class Runner(WavFileSink):
    """WAV files, and a runner who presses a control on hearing a cue: `presses` maps
    (label, nth time heard) to the control. Pressed as the cue is heard, before the player
    goes on, so where each press lands does not depend on how busy the machine is."""

    def __init__(self, folder: Path, presses: dict[tuple[str, int], str]):
        super().__init__(folder, write_new)
        self.presses = dict(presses)
        self.player: DrillPlayer | None = None
        self.times: Counter[str] = Counter()
        self.paused = False  # a pause was pressed and is not yet looked at

    def play(self, clip: Clip) -> None:
        super().play(clip)
        self.times[clip.label] += 1
        control = self.presses.pop((clip.label, self.times[clip.label]), None)
        if control is not None:
            assert self.player is not None
            getattr(self.player, control)()
            self.paused = self.paused or control == "pause"


def play(
    tmp_path: Path,
    renderer: SpeechRenderer,
    presses: dict[tuple[str, int], str],
    speed: float,
) -> tuple[Timeline, list[str], list[list[str]]]:
    """Play the tiny session at `speed` into WAV files, pressing each control as its cue is
    heard; the timeline, what was heard, and what had been heard at each pause. A pause is
    held until the next mark would have been heard twice over (it must not be), then
    resumed."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    timeline = timed(load_session(path), renderer)
    folder = tmp_path / "heard"
    sink = Runner(folder, presses)
    player = DrillPlayer(timeline, Speaker(renderer, sink), speed=speed)
    sink.player = player

    async def hold() -> list[str]:
        at, before = player.position(), played(folder)
        following = next((m.t for m in timeline.marks if m.t > at), timeline.total_s)
        # Nothing to wait for but time: the mark that would come next, had it not paused.
        await asyncio.sleep(2 * (following - at) / speed + 0.2)
        assert player.paused and player.position() == at  # it holds still
        assert played(folder) == before  # and says nothing
        player.resume()
        return before

    async def session() -> list[list[str]]:
        held = []
        playing = asyncio.create_task(player.play())
        async with asyncio.timeout(300):
            while not playing.done():
                if sink.paused:
                    sink.paused = False
                    held.append(await hold())
                await asyncio.sleep(0.01)
            await playing
        return held

    held = asyncio.run(session())
    sink.close()
    return timeline, played(folder), held


def said(timeline: Timeline) -> list[str]:
    """The labels of the whole timeline, as the file sink names them."""
    return [f"drill-{m.label}" if m.kind == "say" else m.label for m in timeline.marks]


def test_a_session_plays_every_mark_in_order_and_pauses(
    tmp_path: Path, renderer: SpeechRenderer
) -> None:
    timeline, heard, held = play(tmp_path, renderer, {("go", 1): "pause"}, speed=8)
    assert heard == said(timeline)  # every mark, once, in order: resumed where it paused
    # The pause came as the hold began, and held it: nothing more until resumed.
    go = next(i for i, m in enumerate(timeline.marks) if m.label == "go")
    assert held == [heard[: go + 1]]


def test_skip_back_and_repeat_move_between_steps(tmp_path: Path, renderer: SpeechRenderer) -> None:
    presses = {
        ("drill-intro", 1): "skip",  # from the intro to the first step
        ("drill-instruction", 1): "skip",  # the wall sit cut short
        ("drill-step", 2): "back",  # just into the squats: back to the wall sit
        ("drill-step", 3): "skip",  # the wall sit again, cut shorter
        ("go", 1): "repeat",  # well into the squats: them again
    }
    _, heard, _ = play(tmp_path, renderer, presses, speed=10)
    assert heard == [
        "start",
        "drill-intro",  # skipped: no safety words
        "drill-step",  # the wall sit ...
        "drill-instruction",  # ... skipped: no hold, no countdown to zero
        "drill-step",  # the squats ...
        "drill-step",  # ... and back to the wall sit, skipped
        *["drill-step", "drill-instruction", "ready", "ready", "ready", "go"],  # squats ...
        *["drill-step", "drill-instruction", "ready", "ready", "ready", "go"],  # ... again
        *["drill-count"] * 3,
        "drill-end",
        "end",
    ]


def test_render_writes_the_whole_session_with_speech_in_it(
    tmp_path: Path, renderer: SpeechRenderer
) -> None:
    timeline = timed(SESSIONS["spine-shoulder-mobility"], renderer)
    for suffix in (".ogg", ".mp3"):
        out = tmp_path / f"session{suffix}"
        seconds = write_session(timeline, renderer, vet_file(out, force=False))
        info = soundfile.info(out)
        assert info.format == suffix[1:].upper()
        assert info.duration == pytest.approx(seconds, abs=0.1)
        assert seconds == pytest.approx(timeline.total_s + 0.5, abs=0.01)
    audio, rate = soundfile.read(tmp_path / "session.ogg", dtype="float32")
    for mark in timeline.marks:
        window = audio[int(mark.t * rate) : int(mark.end * rate)]
        assert np.sqrt(np.mean(window**2)) > 0.005, mark  # every word and chime is there
    quiet = next(m for m in timeline.marks if m.label == "go")
    hold = audio[int((quiet.end + 0.5) * rate) : int((quiet.end + 5) * rate)]
    assert np.sqrt(np.mean(hold**2)) < 0.002  # and the hold before the first cue is silence


def test_the_longest_drift_names_the_session_that_addresses_it() -> None:
    sessions = list(bundled_sessions())
    calm = advise([], sessions)
    assert calm is not None and calm.session.id == "daily-routine"
    demo = [
        Drift("overstride", 400, 500),
        Drift("anterior_tilt", 610, 900),
        Drift("bounce", 1000, 1010),
    ]
    advice = advise(demo, sessions)
    assert advice is not None and advice.session.id == "hip-mobility-strength"
    assert advice.text == "Pelvis tipping forward from minute 10: try hip mobility and strength."
    shoulders = advise([Drift("shoulder_tension", 60, 300)], sessions)
    assert shoulders is not None
    assert "shoulder_tension" in shoulders.session.info.addresses
    assert shoulders.session.id != "daily-routine"  # the specific one, not the catch-all


def test_suggest_reads_the_drift_of_a_run(tmp_path: Path) -> None:
    run = companion("demo", "--speed", "0", "--json", "--audio", "files", "--out", str(tmp_path))
    assert run.returncode == 0, run.stderr
    events = tmp_path / "run.jsonl"
    events.write_text(run.stdout)
    summary = json.loads(run.stdout.splitlines()[-1])
    assert summary["text"].endswith("Try hip mobility and strength.")  # said after the run
    done = companion("drills", "suggest", str(events))
    assert done.returncode == 0, done.stderr
    assert "companion drills play hip-mobility-strength" in done.stdout
    none = companion("drills", "suggest")
    assert none.returncode == 0 and "No run of yours kept yet" in none.stdout


def test_every_session_renders_to_a_file_of_its_length(
    espeak_renderer: SpeechRenderer, tmp_path: Path
) -> None:
    # The command once (compressed: the encoder is slow; the default voice), then every
    # session as the command renders it, in this process, with the quicker engine: a process
    # each would mostly load the same libraries.
    renderer = espeak_renderer
    shortest = min(SESSIONS, key=lambda name: len(SESSIONS[name].steps))
    out = tmp_path / f"{shortest}.ogg"
    done = companion("drills", "render", shortest, "--out", str(out), *QUICK_VOICE)
    assert done.returncode == 0, done.stderr
    length = done.stdout.strip().rsplit(", ", 1)[-1]  # "Wrote FILE: TITLE, mm:ss"
    minutes, seconds = map(int, length.split(":"))
    assert soundfile.info(out).duration == pytest.approx(60 * minutes + seconds, abs=1.0)
    for name, session in SESSIONS.items():
        timeline = timed(session, renderer)
        target = vet_file(tmp_path / f"{name}.wav", force=False)
        written = write_session(timeline, renderer, target)
        assert written == pytest.approx(timeline.total_s, abs=1.0)
        assert soundfile.info(target.path).duration == pytest.approx(written, abs=0.1)
    wrong = companion("drills", "render", "posture-walk", "--out", str(tmp_path / "x.aac"))
    assert wrong.returncode == 2 and "name a .wav, .ogg, .mp3 or .flac file" in wrong.stderr


SHORT = """
[session]
id = "short"
title = "Short"
about = "One hold, to hear on a device."

[[step]]
name = "Wall sit"
instructions = ["Back to the wall."]
hold_s = 5
"""


@pytest.mark.audio
@pytest.mark.long
def test_a_session_is_heard_on_the_device_on_time(
    pulse: PulseSink, renderer: SpeechRenderer, tmp_path: Path
) -> None:
    """`companion drills play` through PortAudio into the null sink, recorded back: the
    chimes come where the timeline put them."""
    path = tmp_path / "short.toml"
    path.write_text(SHORT)
    rec = pulse.recording(tmp_path / "monitor.raw")
    names = ("PULSE_RUNTIME_PATH", "PULSE_STATE_PATH", "PULSE_SERVER")
    env = {**os.environ, **{k: pulse.env[k] for k in names}}
    done = subprocess.run(
        [COMPANION, "drills", "play", str(path), "--here", "--audio", "device"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    heard = rec.stop()
    assert done.returncode == 0, done.stderr
    timeline = timed(load_session(path), renderer)
    marks = {m.label: m for m in timeline.marks}  # each of these comes once
    (start, match_start) = onset(heard, synthesize("start"))
    (go, match_go) = onset(heard, synthesize("go"))
    assert match_start > 0.9 and match_go > 0.9
    assert go - start == pytest.approx(marks["go"].t - marks["start"].t, abs=0.3)
    # Every word and chime, once: as much sound as they hold (not their files' lengths,
    # which count the quiet between words too).
    voiced, _ = speech_level(heard, 22050)
    sounds = [
        read_wav(renderer.render(m.what).result(timeout=60))[0]
        if m.kind == "say"
        else synthesize(m.what)
        for m in timeline.marks
    ]
    assert voiced == pytest.approx(sum(speech_level(x, 22050)[0] for x in sounds), rel=0.15)
