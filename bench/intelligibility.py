"""Speech intelligibility: what the coach says, rendered as a run would, then recognised.

Two listeners. pocketsphinx (its bundled US English model) with a grammar of all the cue
phrases is a listener who knows what the coach might say (goal: at most 5 % word errors).
Moonshine (base, English; its model inside the `moonshine-cpp` package, nothing fetched) is
open-vocabulary: it may hear any words, as a runner with traffic and music around does.
It hears every catalogue wording, every drill session's phrases and a few run summaries,
for each engine, clean and with street-like noise added at +5 and 0 dB SNR. Goal for the
default voice: at most 10 % word errors clean and 25 % at 0 dB, and better than espeak-ng
at every setting. Misheard phrases of the default voice are listed after the tables.

Run: .venv/bin/python bench/intelligibility.py [--quick] [--renders N] [--reworded] [--clarity]
  --quick: the catalogue only; --renders N: each phrase rendered N times (Piper's voice is
  sampled afresh each time); --reworded: the wordings issue 17 changed, before and after;
  --clarity: the catalogue with the clarity shaping off and on, the noise set by power and
  by loudness
(needs: .venv/bin/pip install -e '.[bench]')
"""

from __future__ import annotations

import ctypes
import re
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from num2words import num2words
from pocketsphinx import Decoder
from rich.console import Console
from rich.table import Table
from scipy import signal

from companion.cli.cues import wordings
from companion.coaching.coach import estimate_duration
from companion.coaching.summary import RunStats, spoken_summary
from companion.drills.timeline import build_timeline
from cues.catalogue import load_catalogue
from cues.drills import bundled_sessions
from cues.loudness import integrated
from cues.speech import SpeechRenderer, VoiceSettings
from cues.wavfile import read_wav

ENGINES = (("Piper en_US-joe-medium (default)", VoiceSettings()),
           ("espeak-ng default", VoiceSettings("pyttsx3")))  # fmt: skip
CLARITY = (("Piper, clarity off (default)", VoiceSettings()),
           ("Piper, clarity on", VoiceSettings(clarity=True)))  # fmt: skip
GRAMMAR_SETTINGS = (
    ("Piper, 175 wpm", VoiceSettings()),
    ("espeak-ng default voice, 175 wpm", VoiceSettings("pyttsx3")),
    ("espeak-ng default voice, 150 wpm", VoiceSettings("pyttsx3", rate=150)),
    ("espeak-ng US English (gmw/en-us)", VoiceSettings("pyttsx3", "gmw/en-us")),
)
SNRS: tuple[float | None, ...] = (None, 5.0, 0.0)  # None: clean
# Words of the cues that the model's dictionary lacks, with their phones.
EXTRA_WORDS = {"glutes": "G L UW T S", "footpod": "F UH T P AA D", "tailbone": "T EY L B OW N"}
# What the open-vocabulary listener writes for what the coach says.
SPELLINGS = {"kilometer": "kilometre", "kilometers": "kilometres", "km": "kilometres",
             "meters": "metres", "meter": "metre", "ok": "okay", "percent": "percent",
             "%": " percent", "censor": "sensor", "censors": "sensors"}  # fmt: skip


def words(text: str) -> list[str]:
    """Lower-case words; an apostrophe is part of a word ("i'll"), never a quote around it."""
    return [w.strip("'") for w in re.findall(r"[a-z']+", text.lower()) if w.strip("'")]


def said_words(text: str) -> list[str]:
    """`text` as words, numbers spelled ("152" as "one hundred fifty two", "5.12" as "five
    twelve"), for comparing what was said with what was heard."""
    text = text.lower().replace("%", " percent ")
    text = re.sub(r"(\d+)\.(\d+)", r"\1 \2", text)
    text = re.sub(r"\d+", lambda m: f" {num2words(int(m[0])).replace(' and ', ' ')} ", text)
    out = []
    for w in words(text.replace("-", " ")):
        out.extend(SPELLINGS.get(w, w).split())
    return out


def readings(text: str) -> list[list[str]]:
    """The words a listener hears for `text`: numbers as said, "one hundred and seventy
    two" (espeak-ng's British English) or "one hundred seventy two" (its US English)."""
    spelled = re.sub(
        r"\d+(\.\d+)?", lambda m: f" {num2words(float(m[0]) if m[1] else int(m[0]))} ", text
    )
    british = words(spelled.replace("-", " "))
    american = [w for w in british if w != "and"] if re.search(r"\d", text) else british
    return [british] if american == british else [british, american]


def wer(reference: list[str], heard: list[str]) -> int:
    """Word-level edit distance (substitutions, insertions, deletions)."""
    d = np.arange(len(heard) + 1)
    for i, r in enumerate(reference, 1):
        prev, d[0] = d.copy(), i
        for j, h in enumerate(heard, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r != h))
    return int(d[-1])


def decoder(phrases: list[str]) -> Decoder:
    # Its log goes to stderr; a misheard phrase is reported here instead. With the default
    # beams the search prunes away whole phrases of a grammar this size (measured: 18 %
    # word errors, 5 % with these), and filler words only add ways to go wrong.
    dec = Decoder(
        samprate=16000,
        lm=None,
        loglevel="FATAL",
        fsgusefiller=False,
        beam=1e-80,
        wbeam=1e-60,
        pbeam=1e-80,
    )
    for word, phones in EXTRA_WORDS.items():
        if dec.lookup_word(word) is None:
            dec.add_word(word, phones, True)
    heard = [r for p in phrases for r in readings(p)]
    missing = {w for r in heard for w in r if dec.lookup_word(w) is None}
    if missing:
        raise SystemExit(f"add these words to EXTRA_WORDS: {sorted(missing)}")
    alternatives = " | ".join(f"( {' '.join(r)} )" for r in sorted({tuple(r) for r in heard}))
    dec.add_jsgf_string("cues", f"#JSGF V1.0;\ngrammar cues;\npublic <cue> = {alternatives} ;\n")
    dec.activate_search("cues")
    return dec


def at_16k(wav: Path) -> np.ndarray:
    data, rate = read_wav(wav)
    return signal.resample_poly(data.astype(np.float64), 16000, rate)  # both models hear 16 kHz


def recognise(dec: Decoder, wav: Path) -> list[str]:
    audio = at_16k(wav)
    # Quiet after it, as a listener has: the search needs it to close the last word.
    audio = np.concatenate([audio, np.random.default_rng(0).normal(0, 3e-4, 4800)])
    pcm = np.clip(audio * 32767, -32768, 32767).astype("<i2").tobytes()
    dec.start_utt()
    dec.process_raw(pcm, full_utt=True)
    dec.end_utt()
    hyp = dec.hyp()
    return words(hyp.hypstr) if hyp is not None else []


class Moonshine:
    """Moonshine base (English), from the moonshine-cpp package: its model is in the wheel.
    Its Python wrapper's transcribe() is broken in 0.1.4 (it names a ctypes type that does
    not exist), so the library it wraps is called as the wrapper means to."""

    def __init__(self) -> None:
        import moonshine_cpp
        from moonshine_cpp import moonshine_lib

        self.lib = moonshine_lib
        models = Path(moonshine_cpp.__file__).parent / "models" / "base-en"
        files = ("encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin")
        self.handle = moonshine_lib.moonshine_load_model(
            *(str(models / f).encode() for f in files), moonshine_cpp.MOONSHINE_MODEL_TYPE_BASE
        )
        if self.handle == -1:
            raise SystemExit(f"moonshine could not load its model from {models}")

    def hear(self, audio: np.ndarray) -> list[str]:
        a = np.ascontiguousarray(audio, dtype=np.float32)
        out = ctypes.c_char_p()
        pointer = a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        if self.lib.moonshine_transcribe(self.handle, pointer, a.size, ctypes.byref(out)):
            return []
        text = (out.value or b"").decode("utf-8")
        self.lib.moonshine_free_text(out)
        return said_words(text)


_model: Moonshine | None = None  # in the listener's process


def _hear(audio: np.ndarray) -> list[str]:
    global _model
    if _model is None:
        _model = Moonshine()
    return _model.hear(audio)


class Listener:
    """Moonshine in a process of its own, replaced every `PHRASES` phrases: moonshine-cpp
    0.1.4 keeps about 28 MiB of each transcription (measured), and the full run's 1 200
    would take more memory than a machine has (that run used to end silently, killed)."""

    PHRASES = 40

    def __init__(self) -> None:
        self.pool = ProcessPoolExecutor(1, max_tasks_per_child=self.PHRASES)

    def hear(self, audio: np.ndarray) -> list[str]:
        return self.pool.submit(_hear, audio).result()

    def close(self) -> None:
        self.pool.shutdown()


def street_noise(n: int, seed: int) -> np.ndarray:
    """Traffic-like noise at 16 kHz: a rumble weighted to the low frequencies, swelling and
    fading as vehicles pass, with a little broadband hiss of tyres on the road."""
    rng = np.random.default_rng(seed)
    b, a = signal.butter(2, 600, fs=16000)
    rumble = signal.lfilter(b, a, rng.normal(size=n))
    hiss = signal.lfilter(*signal.butter(2, [1000, 5000], "bandpass", fs=16000), rng.normal(size=n))
    t = np.arange(n) / 16000
    swell = 1 + 0.6 * np.sin(2 * np.pi * t / 3.0 + rng.uniform(0, 6.3))
    noise = swell * (rumble / rumble.std() + 0.3 * hiss / hiss.std())
    return noise / noise.std()


def with_noise(
    audio: np.ndarray, snr_db: float | None, seed: int, by_loudness: bool = False
) -> np.ndarray:
    """`audio` with street noise at `snr_db` of the speech's level while it sounds; or, with
    `by_loudness`, at `snr_db` under its integrated loudness (EBU R128). The second keeps
    the comparison fair for speech shaped for clarity, which is levelled by loudness: a
    brighter phrase of the same loudness has less power, so by power it would meet less
    noise than the runner's traffic."""
    if snr_db is None:
        return audio
    noise = street_noise(audio.size, seed)
    if by_loudness:
        gain_db = integrated(audio, 16000) - integrated(noise, 16000) - snr_db
        return audio + noise * 10 ** (gain_db / 20)
    frame = 320
    n = audio.size // frame
    levels = np.sqrt((audio[: n * frame].reshape(n, frame) ** 2).mean(axis=1))
    speech_rms = float(np.sqrt((levels[levels > 0.1 * levels.max()] ** 2).mean()))
    return audio + noise * speech_rms / 10 ** (snr_db / 20)


def summaries() -> list[str]:
    """A few run summaries as the coach says them."""
    runs = [
        RunStats(1500.0, 1450.0, 168.0, 1270.0, 1270.0, (), 0, 4, distance_m=4300.0),
        RunStats(2700.0, 2650.0, 172.0, 2470.0, 2100.0, (), 2, 9, heart_rate_bpm=151.0),
        RunStats(900.0, 880.0, 160.0, 700.0, 700.0, (), 0, 2),
    ]
    return [spoken_summary(stats, []) for stats in runs]


def drill_phrases() -> list[str]:
    return sorted(
        {m.what for s in bundled_sessions() for m in build_timeline(s, estimate_duration).marks
         if m.kind == "say"}
    )  # fmt: skip


def grammar_table(console: Console, phrases: list[str], cache: Path) -> None:
    dec = decoder(phrases)
    table = Table(title=f"Grammar listener: {len(phrases)} cue wordings, pocketsphinx")
    for column in ("voice setting", "words", "errors", "word error rate", "phrases heard exactly"):
        table.add_column(column)
    for name, voice in GRAMMAR_SETTINGS:
        renderer = SpeechRenderer(cache, voice, fallback=False)
        total = errors = exact = 0
        for text in phrases:
            heard = recognise(dec, renderer.render(text).result(timeout=120))
            reference = min(readings(text), key=lambda r: wer(r, heard))
            e = wer(reference, heard)
            total, errors, exact = total + len(reference), errors + e, exact + (e == 0)
        table.add_row(
            name, str(total), str(errors), f"{100 * errors / total:.1f} %",
            f"{exact} of {len(phrases)}",
        )  # fmt: skip
    console.print(table)


def open_table(
    console: Console,
    groups: dict[str, list[str]],
    cache: Path,
    engines: tuple[tuple[str, VoiceSettings], ...],
    renders: int,
    by_loudness: bool = False,
) -> None:
    ear = Listener()
    sizes = ", ".join(f"{len(g)} {name}" for name, g in groups.items())
    each = f", each rendered {renders} times" if renders > 1 else ""
    snr_of = "loudness" if by_loudness else "power"
    table = Table(title=f"Moonshine base (open vocabulary): {sizes}{each}; SNR by {snr_of}")
    for column in (
        "engine",
        "noise",
        *(f"{name}: word errors" for name in groups),
        "all: word errors",
        "heard exactly",
    ):
        table.add_column(column)
    misheard: list[str] = []
    for name, voice in engines:
        # Piper samples its voice afresh each time (the same text never sounds quite the
        # same), so each render is a cache of its own; espeak-ng renders are all alike.
        clips = [
            {
                text: at_16k(
                    SpeechRenderer(cache / f"render{k}", voice, fallback=False)
                    .render(text)
                    .result(timeout=120)
                )
                for group in groups.values()
                for text in group
            }
            for k in range(renders)
        ]
        for snr in SNRS:
            cells, total, errors, exact, heard_n = [], 0, 0, 0, 0
            for group in groups.values():
                g_total = g_errors = 0
                for i, text in enumerate(group):
                    reference = said_words(text)
                    for k in range(renders):
                        noisy = with_noise(clips[k][text], snr, renders * i + k, by_loudness)
                        heard = ear.hear(noisy)
                        e = wer(reference, heard)
                        g_total, g_errors, exact, heard_n = (
                            g_total + len(reference),
                            g_errors + e,
                            exact + (e == 0),
                            heard_n + 1,
                        )
                        if e and voice == VoiceSettings():
                            noise = "clean" if snr is None else f"{snr:+.0f} dB"
                            misheard.append(f"{noise}: “{text}” heard as “{' '.join(heard)}”")
                cells.append(f"{100 * g_errors / g_total:.1f} % of {g_total}")
                total, errors = total + g_total, errors + g_errors
            table.add_row(
                name, "clean" if snr is None else f"{snr:+.0f} dB SNR", *cells,
                f"{100 * errors / total:.1f} % of {total}", f"{exact} of {heard_n}",
            )  # fmt: skip
    ear.close()
    console.print(table)
    console.print("[bold]Misheard, default voice:")
    for line in misheard:
        console.print(f"[dim]{line}")


# The wordings issue 17 changed, as they were and as they are: `--reworded` measures both.
REWORDED = [
    ("Low ribs down. Hips level.", "Ribs low. Keep your hips level."),
    ("Run tall. Ribs over hips.", "Run tall. Ribs over your hips."),
    ("Tall and stacked.", "Run tall and stacked."),
    ("Lift from the top of your head.", "Grow tall from the top of your head."),
    ("Chest up, hips under you.", "Chest up. Keep your hips under you."),
    ("Low and smooth.", "Run low and smooth."),
    ("Squeeze your glutes. Hips level.", "Squeeze your glutes. Keep your hips level."),
    ("Glutes on. Hips level.", "Glutes on. Level your hips."),
    ("Level hips. Drive from behind.", "Level your hips. Drive with your glutes."),
    ("Loose shoulders, soft hands.", "Relax your shoulders and hands."),
    ("Check in. Tall, ribs over hips.", "Check in. Run tall, ribs over your hips."),
    (
        "Quick check. Hips level, shoulders soft.",
        "Quick check. Keep your hips level, shoulders soft.",
    ),
    ("Run paused.", "Pausing your run."),
    ("Run resumed.", "Running again."),
    ("Chest sensor connected.", "Chest strap connected."),
    ("Chest sensor lost. I'll keep trying.", "Chest strap lost. I'll keep trying."),
    ("Hips level.", "Keep your hips level."),  # drill steps' cues from here on
    ("Glutes hold you up.", "Your glutes hold you up."),
    ("Hips back.", "Sit your hips back."),
    ("Hips far back.", "Push your hips far back."),
]


def option(name: str, default: int) -> int:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def main() -> int:
    console = Console(width=160)
    renders = option("--renders", 1)
    with tempfile.TemporaryDirectory() as cache:
        if "--clarity" in sys.argv:
            catalogue = [text for cue in load_catalogue() for _, text in wordings(cue)]
            for by_loudness in (False, True):
                open_table(console, {"cue wordings": catalogue}, Path(cache), CLARITY, renders,
                           by_loudness)  # fmt: skip
            return 0
        if "--reworded" in sys.argv:
            groups = {"before": [a for a, _ in REWORDED], "after": [b for _, b in REWORDED]}
            open_table(console, groups, Path(cache), ENGINES[:1], renders)
            return 0
        catalogue = [text for cue in load_catalogue() for _, text in wordings(cue)]
        groups = {"cue wordings": catalogue}
        if "--quick" not in sys.argv:
            groups |= {"drill phrases": drill_phrases(), "summaries": summaries()}
        grammar_table(console, catalogue, Path(cache))
        open_table(console, groups, Path(cache), ENGINES, renders)
    return 0


if __name__ == "__main__":
    sys.exit(main())
