"""The daemon's run lifecycle and auto-start, and the words of scheduled announcements:
pure, tested without a daemon."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from companion.coaching.lifecycle import AutoStart, Lifecycle, LifecycleError, Phase
from companion.coaching.spoken import (
    spoken_distance,
    spoken_duration,
    spoken_pace,
    written,
    written_pace,
)
from cues.words import counted


def test_a_run_goes_through_its_phases() -> None:
    life = Lifecycle()
    with pytest.raises(LifecycleError, match="no run to pause: start one"):
        life.check_pause()
    with pytest.raises(LifecycleError, match="no run to stop"):
        life.check_stop()
    life.start()
    assert life.phase is Phase.CONNECTING
    life.engine("connecting", held=False)  # the engine's own start: no sensor has spoken yet
    with pytest.raises(LifecycleError, match="still connecting"):
        life.check_pause()
    with pytest.raises(LifecycleError, match="already going \\(connecting\\)"):
        life.start()
    life.engine("warmup", held=False)  # a sensor sent data
    assert life.phase.value == "warmup"
    life.engine("running", held=False)
    life.engine("paused", held=False)
    assert life.paused_by == "stopped running"
    with pytest.raises(LifecycleError, match="resumes when you run again"):
        life.check_resume()
    life.check_pause()  # the runner's pause may take over from stopping
    life.engine("paused", held=True)
    assert life.paused_by == "you"
    with pytest.raises(LifecycleError, match="already paused"):
        life.check_pause()
    life.check_resume()
    life.engine("running", held=False)
    assert life.paused_by is None
    with pytest.raises(LifecycleError, match="not paused"):
        life.check_resume()
    life.engine("finished", held=False)
    assert life.phase is Phase.FINISHED
    life.start()  # a new run after the last
    assert life.phase is Phase.CONNECTING


def test_auto_start_waits_for_sustained_running_cadence() -> None:
    auto = AutoStart(spm=140, hold_s=10, gap_s=3)
    fed = [(t, 165.0) for t in range(0, 8)]  # eight seconds of running...
    fed += [(8, 60.0)]  # ... a walk ...
    fed += [(t, 170.0) for t in range(9, 19)]  # ... then ten seconds, not enough yet ...
    assert not any(auto.footpod(t, spm) for t, spm in fed)
    assert auto.footpod(19, 170.0)  # ... and now it is a run
    gappy = AutoStart(spm=140, hold_s=10, gap_s=3)
    readings = [(t, 170.0) for t in (0, 2, 4, 9, 11, 13, 15, 17)]  # lost for five seconds
    assert not any(gappy.footpod(t, spm) for t, spm in readings)
    assert gappy.footpod(19, 170.0)
    assert not AutoStart().footpod(0, None)


def test_auto_start_needs_ten_seconds_of_running_shown() -> None:
    """README: a run starts "once it shows running cadence for ten seconds". The detector
    as the daemon makes it (its defaults), fed footpod readings stamped in the footpod's
    run time, twice a second: 9.5 s of running and a stop starts nothing; 10 s starts."""
    short = AutoStart()
    fed: list[tuple[float, float | None]] = [(200 + i / 2, 170.0) for i in range(20)]
    fed += [(210 + i / 2, None) for i in range(20)]  # running 200.0 to 209.5, then stopped
    assert [short.footpod(t, spm) for t, spm in fed] == [False] * 40

    auto = AutoStart()
    running = [(200 + i / 2, 170.0) for i in range(24)]  # running from 200.0 to 211.5
    started = [t for t, spm in running if auto.footpod(t, spm)]
    assert started == [210.0, 210.5, 211.0, 211.5]  # from 10 s of running shown on


def test_numbers_are_said_in_words() -> None:
    assert spoken_duration(45) == "45 seconds"
    assert spoken_duration(600) == "10 minutes"
    assert spoken_duration(3900) == "1 hour 5 minutes"
    assert spoken_duration(7200) == "2 hours"
    assert spoken_distance(800) == "800 metres"
    assert spoken_distance(1000) == "1 kilometre"
    assert spoken_distance(2540) == "2.5 kilometres"
    assert spoken_distance(5000) == "5 kilometres"
    assert spoken_pace(1000, 300) == "5 minutes a kilometre"
    assert spoken_pace(1000, 321) == "5 21 a kilometre"  # said "five twenty-one"
    assert spoken_pace(1000, 301) == "5 oh 1 a kilometre"
    assert spoken_pace(0, 300) is None
    assert spoken_pace(100, 3600) is None  # standing about: no pace
    assert spoken_duration(1) == "1 second"
    assert spoken_duration(3660) == "1 hour 1 minute"
    assert [counted(n, "cue") for n in (0, 1, 2)] == ["0 cues", "1 cue", "2 cues"]
    assert counted(1.5, "second") == "1.5 seconds" and counted(1, "entry", "entries") == "1 entry"


@given(st.floats(1, 50_000), st.floats(1, 50_000))
def test_a_pace_said_is_printed_in_its_written_form(metres: float, seconds: float) -> None:
    said, shown = spoken_pace(metres, seconds), written_pace(metres, seconds)
    assert (said is None) == (shown is None)
    if said is not None and shown is not None:
        assert written(f"Run complete: 12 minutes, at {said}.") == (
            f"Run complete: 12 minutes, at {shown}."
        )
        assert re.fullmatch(r"([0-9]|[12][0-9]):[0-5][0-9] /km", shown)
    assert written("12 minutes, 3 kilometres") == "12 minutes, 3 kilometres"  # no pace
    assert written("Form held 92 percent.") == "Form held 92 %."
