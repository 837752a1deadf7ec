"""Shared fixtures: the data folder, private user directories, and a real PulseAudio sink."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from companion import paths
from cues.catalogue import load_catalogue
from cues.speech import SpeechError, SpeechRenderer, VoiceSettings
from cues.wavfile import read_wav
from sensors.profiles import SPOKEN_NAMES
from tests.pulse import PulseSink, start_pulse

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"  # carried in the repository: see tests/data/README.md
RUNNING = DATA / "running"
OUTDOOR = RUNNING / "adept_outdoor_run_hip_ankle_100hz.csv.gz"
TREADMILL = RUNNING / "alcantara_sacrum_grf_treadmill_500hz.csv.gz"
TRIALS = RUNNING / "alcantara_sacrum_grf_trials.csv"
RAW_SAMPLE = RUNNING / "alcantara_sacrum_raw_sample_512hz.csv.gz"
BOUTS = RUNNING / "adept_outdoor_run_bouts_derived.csv"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long tests at the head of each worker's share of the suite. They mostly wait on
    real time (a run played through the sound server, a daemon's minute); started first, the
    short tests fill the processors around them instead of waiting for the last of them at
    the end. xdist's worksteal gives each worker a contiguous share, in collection order."""
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    long = [item for item in items if item.get_closest_marker("long")]
    if workers < 2 or not long:
        return
    rest = iter([item for item in items if not item.get_closest_marker("long")])
    ordered: list[pytest.Item] = []
    for k in range(workers):
        share = (len(items) - len(ordered)) // (workers - k)  # as worksteal splits it
        heads = long[k::workers]
        ordered += heads + [next(rest) for _ in range(share - len(heads))]
    items[:] = ordered + list(rest)


# As `companion` does: BLAS threads only fight each other over our tiny matrices.
threadpool_limits(limits=1, user_api="blas")


def known(value: float | None) -> float:
    """A metric that must be there (a running window's cadence, an aligned lean)."""
    assert value is not None
    return value


def need(condition: bool, why: str) -> None:
    """Skip when something outside the project is missing, but never in CI, where the
    set-up must have provided it: a skip there would hide a missing install step."""
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(f"{why} (CI must provide it)")
        pytest.skip(why)


@pytest.fixture(scope="session")
def running_data() -> Path:
    return RUNNING


@pytest.fixture(scope="session")
def cache_home(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One cache for the whole test run, shared by the xdist workers: a phrase rendered by
    one is not rendered again by the others (the cache's files are written atomically)."""
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if worker_id != "master" else base) / "cache"
    shared.mkdir(mode=0o700, exist_ok=True)
    return shared


@pytest.fixture(scope="session", autouse=True)
def session_dirs(tmp_path_factory: pytest.TempPathFactory, cache_home: Path) -> Iterator[None]:
    """Folders for what module and session fixtures run, before any test's own: nothing the
    suite does may touch the real user's data, configuration or cache."""
    base = tmp_path_factory.mktemp("session-home")
    runtime = base / "runtime"
    runtime.mkdir(mode=0o700)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_DATA_HOME", str(base / "data"))
        patch.setenv("XDG_CONFIG_HOME", str(base / "config"))
        patch.setenv("XDG_RUNTIME_DIR", str(runtime))
        patch.setenv("XDG_CACHE_HOME", str(cache_home))
        _catalogue_spoken(cache_home)
        yield


def _catalogue_spoken(cache_home: Path) -> None:
    """The catalogue in the default voice, rendered once for the whole run: the first
    worker here renders it while the others wait, instead of all four rendering it at once
    (Piper needs about 8 s of a core for it)."""
    with (cache_home / "catalogue.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = SpeechRenderer(paths.speech_cache())
        with contextlib.suppress(SpeechError):  # the tests of speech say what is wrong
            r.render_all(load_catalogue().texts({"sensor": SPOKEN_NAMES}))


@pytest.fixture(autouse=True)
def private_dirs(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    cache_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every test gets its own data, config and runtime folders; the speech cache is shared
    by the session."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # never the runner's own
    # Beside the test's folder, not in it; 0700 as the XDG spec asks. Never a real daemon's.
    runtime = tmp_path_factory.mktemp("runtime")
    runtime.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))


@pytest.fixture(scope="session")
def renderer(cache_home: Path) -> Iterator[SpeechRenderer]:
    """The default voice (Piper), into the run's shared cache."""
    r = SpeechRenderer(paths.speech_cache())
    yield r
    r.close()


# For commands whose files, not their voice, a test is about: espeak-ng renders in a fraction
# of Piper's time.
QUICK_VOICE = ("--voice-engine", "pyttsx3")


@pytest.fixture(scope="session")
def espeak_renderer(cache_home: Path) -> Iterator[SpeechRenderer]:
    """espeak-ng, for tests about timing rather than the voice: it renders in a fraction of
    Piper's time, which keeps the suite inside its budget."""
    need(shutil.which("espeak-ng") is not None, "espeak-ng is not installed (make setup)")
    r = SpeechRenderer(paths.speech_cache(), VoiceSettings("pyttsx3"), fallback=False)
    yield r
    r.close()


def speech_level(samples: np.ndarray, rate: int) -> tuple[float, float]:
    """(seconds of sound above a speech-like level, overall RMS) of a float signal."""
    frame = rate // 50  # 20 ms
    n = samples.size // frame
    rms = np.sqrt((samples[: n * frame].reshape(n, frame) ** 2).mean(axis=1))
    return float((rms > 0.02).sum() * frame / rate), float(np.sqrt((samples**2).mean()))


def assert_speech(path: Path, min_s: float = 0.5, max_s: float = 6.0) -> None:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
    samples, rate = read_wav(path)
    duration = samples.size / rate
    assert min_s <= duration <= max_s
    voiced, rms = speech_level(samples, rate)
    assert voiced >= max(0.25, 0.3 * duration) and rms > 0.03  # a short phrase trails off
    # Most of the energy sits where voices do (consonants lifted for clarity included), not
    # in hum or hiss.
    assert band_share(samples, rate, 80, 8000) > 0.9


def band_share(samples: np.ndarray, rate: int, low_hz: float, high_hz: float) -> float:
    """The share of a signal's energy between `low_hz` and `high_hz`."""
    power = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    return float(power[(freqs > low_hz) & (freqs < high_hz)].sum() / power.sum())


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseSink]:
    need(
        shutil.which("pulseaudio") is not None and shutil.which("parec") is not None,
        "PulseAudio is not installed (make setup)",
    )
    sink = start_pulse(tmp_path_factory.mktemp("pulse"))
    yield sink
    sink.kill()


@pytest.fixture(scope="session")
def kept_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A history file of three real runs (tests/history_data.py); copy it before changing it."""
    from tests.history_data import build

    db = tmp_path_factory.mktemp("history") / "history.sqlite"
    build(db)
    return db
