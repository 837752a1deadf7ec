"""The cue commands: list the catalogue, say one cue aloud, render them all to WAV files."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from rich.console import Console

from companion import paths
from companion.cli.arguments import add_force_option, setting
from companion.cli.tables import Column, fitted
from companion.coaching.coach import estimate_duration
from companion.config import Config, SpeechConfig, load_config
from companion.outputs import vet_files, vet_folder, write_file
from companion.run.options import RunOptions, audio_sink, configured_voice
from cues.audio import Clip
from cues.catalogue import EXAMPLES, Catalogue, Cue, load_catalogue
from cues.speech import ENGINES, SpeechError, SpeechRenderer, VoiceSettings
from cues.words import counted

CUES_HELP = "a cue catalogue (default: the configuration's [coach] cues, else the bundled one)"


def add_voice_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--voice-engine",
        choices=ENGINES,
        help="piper (a neural voice, the default) or pyttsx3 (espeak-ng)",
    )
    p.add_argument(
        "--voice",
        help="a Piper voice file (.onnx, its .json beside it) or an espeak-ng voice such as "
        "gmw/en-us (default: the engine's own)",
    )
    p.add_argument(
        "--voice-rate",
        type=setting(SpeechConfig, "rate"),
        help="speech in words a minute (default 175)",
    )
    p.add_argument(
        "--voice-volume",
        type=setting(SpeechConfig, "volume"),
        help="speech volume, 0-1 (default 1)",
    )


def voice_settings(args: argparse.Namespace, configured: Config | None = None) -> VoiceSettings:
    """The command line's voice where given, else the configuration's."""
    cfg = load_config() if configured is None else configured
    return configured_voice(
        cfg.speech,
        cfg.sound,
        engine=args.voice_engine,
        voice=args.voice,
        rate=args.voice_rate,
        volume=args.voice_volume,
    )


def _catalogue(args: argparse.Namespace) -> Catalogue:
    """The catalogue `--cues` names, else the configuration's (`[coach] cues`), else the
    bundled one: the one a run would use."""
    return load_catalogue(args.cues if args.cues is not None else load_config().coach.cues)


def wordings(cue: Cue) -> list[tuple[str, str]]:
    """(kind, text) of every wording, placeholders filled with an example."""
    return [
        (kind, text.format(**EXAMPLES))
        for kind, texts in (("say", cue.say), ("escalate", cue.escalate))
        for text in texts
    ]


def cmd_cues_list(args: argparse.Namespace, console: Console) -> int:
    catalogue = _catalogue(args)
    cfg = load_config()
    renderer = SpeechRenderer(paths.speech_cache(), configured_voice(cfg.speech, cfg.sound))
    rows = []
    for cue in catalogue:
        for kind, text in wordings(cue):
            rendered = renderer.duration(text)
            rows.append(
                {
                    "id": cue.id,
                    "category": cue.category.value,
                    "priority": cue.priority,
                    "cooldown_s": cue.cooldown_s,
                    "answers": list(cue.answers),
                    "kind": kind,
                    "text": text,
                    "seconds": round(rendered or estimate_duration(text), 2),
                    "rendered": rendered is not None,
                }
            )
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    columns = (
        Column("id"),
        Column("category", keep=3),
        Column("prio", right=True, keep=1),
        Column("cool-down", right=True, keep=2),
        Column("answers", whole=False, keep=4),
        Column("wording", whole=False),
        Column("s", right=True, keep=5),
    )
    cells = [
        (
            str(row["id"]),
            str(row["category"]),
            str(row["priority"]),
            f"{row['cooldown_s']:g} s",
            ", ".join(row["answers"]),  # type: ignore[arg-type]
            ("↑ " if row["kind"] == "escalate" else "") + str(row["text"]),
            f"{row['seconds']:.1f}" + ("" if row["rendered"] else "~"),
        )
        for row in rows
    ]
    console.print(fitted(console, columns, cells, title=f"Cue catalogue: {catalogue.source}"))
    console.print("[dim]↑ escalation wording; ~ estimated (not rendered yet)")
    return 0


def _cue(catalogue: Catalogue, cue_id: str) -> Cue:
    try:
        return catalogue[cue_id]
    except KeyError:
        ids = ", ".join(c.id for c in catalogue)
        raise SystemExit(
            f"companion: no cue {cue_id!r} in {catalogue.source} (cues: {ids})"
        ) from None


def cmd_cues_say(args: argparse.Namespace, console: Console) -> int:
    catalogue = _catalogue(args)
    cue = _cue(catalogue, args.id)
    texts = [text for kind, text in wordings(cue) if args.all or kind == "say"][
        : None if args.all else 1
    ]
    sink = audio_sink(RunOptions(audio=args.audio, out=args.out, name="cues"), console)
    renderer = SpeechRenderer(paths.speech_cache(), voice_settings(args))
    try:
        for i, text in enumerate(texts):
            path = renderer.render(text).result()
            sink.play(Clip(path=path, label=f"{cue.id}-{i + 1}", t=float(i)))
            console.print(f"🔊 “{text}”")
    except SpeechError as err:
        raise SystemExit(f"companion: speech is unavailable: {err}") from None
    finally:
        sink.close()
        renderer.close()
    return 0


def cmd_cues_render(args: argparse.Namespace, console: Console) -> int:
    catalogue = _catalogue(args)
    out = vet_folder(args.out)
    texts, files = [], []
    for cue in catalogue:
        for i, (kind, text) in enumerate(wordings(cue), 1):
            slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]
            texts.append(text)
            files.append(out / f"{cue.id}-{kind}-{i}-{slug}.wav")
    # The same names each time: the files an earlier render left there are asked about once.
    targets = vet_files(files, args.force)
    renderer = SpeechRenderer(paths.speech_cache(), voice_settings(args))
    seconds = 0.0
    try:
        with console.status("Rendering the cue catalogue…"):
            for text, target in zip(texts, targets, strict=True):
                write_file(target, renderer.render(text).result().read_bytes())
                seconds += renderer.duration(text) or 0.0
    except SpeechError as err:
        raise SystemExit(f"companion: speech is unavailable: {err}") from None
    finally:
        renderer.close()
    said = counted(len(targets), "wording")
    console.print(f"{said}, {seconds:.0f} s of speech, written to {out}")
    return 0


def add_cue_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cues = sub.add_parser("cues", help="the cue catalogue: list it, hear a cue, render them all")
    cues_sub = cues.add_subparsers(dest="cues_command", required=True, metavar="ACTION")

    p = cues_sub.add_parser("list", help="every cue and wording, with how long it takes to say")
    p.add_argument("--json", action="store_true", help="one JSON object per wording")
    p.add_argument("--cues", type=Path, help=CUES_HELP)
    p.set_defaults(handler=cmd_cues_list)

    p = cues_sub.add_parser("say", help="say a cue aloud, as the coach would")
    p.add_argument("id", help="the cue's id (see `companion cues list`)")
    p.add_argument("--all", action="store_true", help="every wording, escalations too")
    p.add_argument(
        "--audio",
        choices=("auto", "device", "files"),
        default="auto",
        help="the default output device, WAV files, or (auto) the device when there is one",
    )
    p.add_argument("--out", type=Path, help="folder for WAV files when they are written")
    p.add_argument("--cues", type=Path, help=CUES_HELP)
    add_voice_options(p)
    p.set_defaults(handler=cmd_cues_say)

    p = cues_sub.add_parser("render", help="render every wording to WAV files in a folder")
    p.add_argument("--out", type=Path, required=True, help="the folder to write into")
    add_force_option(p)
    p.add_argument("--cues", type=Path, help=CUES_HELP)
    add_voice_options(p)
    p.set_defaults(handler=cmd_cues_render)
