"""Speech intelligibility: every cue wording rendered as the coach would, then recognised.

Each wording of the catalogue is rendered with espeak-ng through pyttsx3 at several voice
settings and recognised by pocketsphinx (its bundled US English model) with a grammar of
all the cue phrases, as a listener who knows what the coach might say. Prints the word
error rate per voice setting (goal: at most 5 %) and the phrases that were misheard.

Run: .venv/bin/python bench/intelligibility.py
(needs: .venv/bin/pip install -e '.[bench]')
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import numpy as np
from num2words import num2words
from pocketsphinx import Decoder
from rich.console import Console
from rich.table import Table
from scipy import signal

from companion.cli.cues import wordings
from cues.catalogue import load_catalogue
from cues.speech import SpeechRenderer, VoiceSettings
from cues.wavfile import read_wav

SETTINGS = (
    ("default voice", VoiceSettings()),
    ("default voice, slower (150 wpm)", VoiceSettings(rate=150)),
    ("default voice, faster (200 wpm)", VoiceSettings(rate=200)),
    ("US English (gmw/en-us)", VoiceSettings(voice="gmw/en-us")),
    ("US English, 200 wpm", VoiceSettings(voice="gmw/en-us", rate=200)),
)
# Words of the cues that the model's dictionary lacks, with their phones.
EXTRA_WORDS = {"glutes": "G L UW T S", "footpod": "F UH T P AA D", "tailbone": "T EY L B OW N"}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


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


def recognise(dec: Decoder, wav: Path) -> list[str]:
    data, rate = read_wav(wav)
    audio = signal.resample_poly(data, 16000, rate)  # the model hears 16 kHz
    # Quiet after it, as a listener has: the search needs it to close the last word.
    audio = np.concatenate([audio, np.random.default_rng(0).normal(0, 3e-4, 4800)])
    pcm = np.clip(audio * 32767, -32768, 32767).astype("<i2").tobytes()
    dec.start_utt()
    dec.process_raw(pcm, full_utt=True)
    dec.end_utt()
    hyp = dec.hyp()
    return words(hyp.hypstr) if hyp is not None else []


def main() -> int:
    console = Console(width=110)
    phrases = [text for cue in load_catalogue() for _, text in wordings(cue)]
    dec = decoder(phrases)
    table = Table(
        title=f"Intelligibility: {len(phrases)} cue wordings, pocketsphinx with a grammar"
    )
    for column in ("voice setting", "words", "errors", "word error rate", "phrases heard exactly"):
        table.add_column(column)
    misheard: list[str] = []
    with tempfile.TemporaryDirectory() as cache:
        for name, voice in SETTINGS:
            renderer = SpeechRenderer(Path(cache) / name.replace(" ", "-"), voice)
            total = errors = exact = 0
            for text in phrases:
                heard = recognise(dec, renderer.render(text).result(timeout=60))
                reference = min(readings(text), key=lambda r: wer(r, heard))
                e = wer(reference, heard)
                total, errors, exact = total + len(reference), errors + e, exact + (e == 0)
                if e:
                    misheard.append(f"{name}: “{text}” heard as “{' '.join(heard)}”")
            table.add_row(
                name, str(total), str(errors), f"{100 * errors / total:.1f} %",
                f"{exact} of {len(phrases)}",
            )  # fmt: skip
            renderer.close()
    console.print(table)
    for line in misheard:
        console.print(f"[dim]{line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
