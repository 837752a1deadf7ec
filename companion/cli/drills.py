"""`companion drills list|show|play|render`: guided drill sessions from the command line."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from companion import logs
from companion.cli.arguments import add_force_option
from companion.cli.cues import add_voice_options, voice_settings
from companion.cli.tables import Column, fitted
from companion.coaching.spoken import clock
from companion.config import load_config
from companion.outputs import vet_file
from companion.run.options import RunError, RunOptions, open_audio
from cues.drills import BUNDLED, Session, Step, bundled_sessions, find_session
from cues.words import counted


def _dose(step: Step) -> str:
    if step.reps is not None:
        each = f"{counted(step.reps, 'rep')} at {step.tempo_s:g} s"
    elif step.hold_s is not None:
        each = f"hold {step.hold_s:g} s"
    else:
        each = f"{step.duration_s:g} s"
    sets = f"{step.sets} × " if step.sets > 1 else ""
    sides = ", each side" if step.sides == "both" else ""
    rest = f", rest {step.rest_s:g} s" if step.rest_s else ""
    return f"{sets}{each}{sides}{rest}"


def cmd_list(args: argparse.Namespace, console: Console) -> int:
    from companion.drills.timeline import build_timeline

    rows = [
        (
            session.id,
            session.title,
            str(len(session.steps)),
            session.info.about,
            f"~{clock(build_timeline(session).total_s)}",  # speech estimated; play says it
        )
        for session in bundled_sessions()
    ]
    columns = (
        Column("name"),
        Column("title", whole=False, keep=3),
        Column("steps", right=True, keep=1),
        Column("about", whole=False, keep=2),
        Column("length", keep=4),
    )
    console.print(
        fitted(console, columns, rows, title="Drill sessions (`companion drills play NAME`)")
    )
    return 0


def cmd_show(args: argparse.Namespace, console: Console) -> int:
    from companion.drills.timeline import build_timeline

    session = find_session(args.name)
    timeline = build_timeline(session)
    console.print(f"[bold]{session.title}[/] ({session.id}, about {clock(timeline.total_s)})")
    console.print(session.info.about)
    if args.timeline:
        for m in timeline.marks:
            what = f"🔔 {m.what}" if m.kind == "earcon" else f"“{m.what}”"
            console.print(f"[dim]{clock(m.t)}[/]  {m.label:14} {what}", highlight=False)
        return 0
    rows = [
        (str(i), step.name, str(step.level), _dose(step), " / ".join(step.cues))
        for i, step in enumerate(session.steps, 1)
    ]
    columns = (
        Column("#", right=True),
        Column("step", whole=False),
        Column("level", right=True, keep=1),
        Column("dose", whole=False, keep=3),
        Column("cues", whole=False, keep=2),
    )
    console.print(fitted(console, columns, rows))
    return 0


# Why `drills play` has no device when the configuration asks for files alone.
FILES_CONFIGURED = 'the configuration says [sound] audio = "files"'


def _audio(args: argparse.Namespace, name: str) -> RunOptions:
    cfg = load_config()
    return RunOptions.configured(
        cfg, audio=getattr(args, "audio", None), name=name, voice=voice_settings(args, cfg)
    )


def cmd_play(args: argparse.Namespace, console: Console) -> int:
    from companion.daemon.control_socket import NoDaemon, request, socket_path
    from companion.drills.player import DrillPlayer, timed
    from cues.speaker import Speaker

    session = find_session(args.name)
    if not args.here:
        name = session.id if session.source.parent == BUNDLED else str(session.source.resolve())
        try:
            answer = request(socket_path(), "drill", timeout=60.0, name=name)
        except NoDaemon:
            pass  # no daemon: lead it from here
        else:
            if not answer["ok"]:
                console.print(f"[red]The daemon says: {answer['error']}")
                return 2
            drill = answer["drill"]
            console.print(
                f"The daemon leads {drill['title']} ({drill['length']}). "
                "`companion pause`, `resume`, `skip`, `back`, `repeat` and `stop` control it."
            )
            return 0
    options = _audio(args, f"drills-{session.id}")
    # Led in real time, it is for listening now: with no device to hear it on, say so at
    # once, rather than writing its words to files for as long as it lasts.
    try:
        if options.audio == "files":
            raise RunError(FILES_CONFIGURED)
        sink, renderer = open_audio(replace(options, audio="device"), console)
    except RunError as err:
        raise RunError(
            f"{session.title} is led out loud and cannot be heard here: {err}; "
            f"`companion drills render {args.name} --out FILE` writes it as one sound file"
        ) from None
    try:
        with console.status("Getting the words ready…"):
            timeline = timed(session, renderer)
        console.print(f"[bold]{session.title}[/]: {clock(timeline.total_s)}. Ctrl-C stops.")
        player = DrillPlayer(timeline, Speaker(renderer, sink))
        try:
            logs.run(player.play())
        except KeyboardInterrupt:
            console.print("Stopped.")
    finally:
        sink.close()
        renderer.close()
    return 0


def cmd_render(args: argparse.Namespace, console: Console) -> int:
    from companion import paths
    from companion.drills.player import timed, write_session
    from cues.speech import SpeechRenderer

    session: Session = find_session(args.name)
    target = vet_file(args.out, args.force)  # before the rendering, which takes a while
    renderer = SpeechRenderer(paths.speech_cache(), voice_settings(args))
    try:
        with console.status(f"Rendering {session.title}…"):
            seconds = write_session(timed(session, renderer), renderer, target)
    finally:
        renderer.close()
    console.print(f"Wrote {args.out}: {session.title}, {clock(seconds)}")
    return 0


def cmd_suggest(args: argparse.Namespace, console: Console) -> int:
    from companion.coaching.advice import advise, drifts_in, for_run

    if args.run is None:  # the last run kept
        from companion.history.runs import open_history

        with open_history() as history:
            last = history.last()  # yours: never a replay
            if last is None:
                console.print(
                    "No run of yours kept yet: after a run with `companion start`, or give "
                    "the events of one (`companion replay FILE --json > run.jsonl`)."
                )
                return 0
            name, episodes = last.name, history.episodes(last.id)
        advice = for_run(episodes, last.duration_s or 0.0)
    else:
        name = args.run.name
        try:
            drifts = drifts_in(args.run.read_text(encoding="utf-8").splitlines())
        except (OSError, ValueError) as err:
            console.print(f"[red]{args.run}: {err}")
            return 2
        advice = advise(drifts, list(bundled_sessions()))
    if advice is None:
        console.print("No session to suggest.")
        return 0
    console.print(f"{name}: {advice.text}")
    console.print(f"`companion drills play {advice.session.id}`  ({advice.session.info.about})")
    return 0


def _sound_file(text: str) -> Path:
    from companion.drills.player import FORMATS

    path = Path(text)
    if path.suffix.lower() not in FORMATS:
        raise argparse.ArgumentTypeError(f"{text}: name a .wav, .ogg, .mp3 or .flac file")
    return path


def add_drill_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    drills = sub.add_parser(
        "drills",
        help="guided posture and mobility sessions: list, show, play, render",
        description="Guided drill sessions, led by voice. NAME is a bundled session "
        "(see `companion drills list`) or the path of your own session file.",
    )
    actions = drills.add_subparsers(dest="drills_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the sessions, with their length")
    listing.set_defaults(handler=cmd_list)
    show = actions.add_parser("show", help="a session's steps, doses and cues")
    show.add_argument("name")
    show.add_argument("--timeline", action="store_true", help="every word and chime, timed")
    show.set_defaults(handler=cmd_show)
    play = actions.add_parser("play", help="lead a session out loud now")
    play.add_argument("name")
    play.add_argument(
        "--here",
        action="store_true",
        help="lead it from this command even when the daemon runs (Ctrl-C stops)",
    )
    play.add_argument(
        "--audio",
        choices=("auto", "device"),
        help="the default output device (auto: the same; without one, `render` writes a file)",
    )
    add_voice_options(play)
    play.set_defaults(handler=cmd_play)
    suggest = actions.add_parser(
        "suggest", help="the session for what your last run showed (or RUN's events)"
    )
    suggest.add_argument(
        "run", nargs="?", type=Path, help="a run's events (JSON lines); default: the last run kept"
    )
    suggest.set_defaults(handler=cmd_suggest)
    render = actions.add_parser("render", help="the whole session as one sound file")
    render.add_argument("name")
    render.add_argument(
        "--out", type=_sound_file, required=True, help="the file: .wav, .ogg, .mp3 or .flac"
    )
    add_force_option(render)
    add_voice_options(render)
    render.set_defaults(handler=cmd_render)
