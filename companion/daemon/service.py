"""`companion daemon`: the long-running service a runner talks to with `companion start`.

One asyncio loop holds it all: the control socket, the scheduler (drill reminders), the run
with its sensors (companion/daemon/coached_run.py), and the sound.
Speech rendering and audio playback keep their own threads, as in a foreground run.

It tells systemd when it is ready and that it is alive (sd_notify, when started by
systemd), ends a run cleanly on SIGTERM (the run's data saved, the summary spoken if so
configured) and reloads its configuration on SIGHUP. Between runs it keeps only what
waiting needs in memory: the analysis and Bluetooth come with the first run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sqlite3
import time
from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sdnotify

from companion import paths
from companion.coaching.files import ConfigurationError, load_config_checked
from companion.coaching.lifecycle import ACTIVE, LifecycleError, Phase
from companion.coaching.spoken import clock
from companion.config import Config, SoundConfig, SpeechConfig
from companion.daemon.control import (
    AnyRequest,
    Back,
    Drill,
    Pause,
    Repeat,
    Resume,
    Say,
    Skip,
    Start,
    Status,
    Stop,
    error_reply,
    reply,
)
from companion.daemon.control_socket import claim, serve, socket_path
from companion.daemon.schedule import Reminders, new_scheduler, on_reminder
from companion.history.store import Store, StoreError
from companion.run.options import RunError, RunOptions, open_audio
from cues.audio import AudioSink
from cues.catalogue import load_catalogue
from cues.datafile import DataFileError
from cues.speaker import Speaker
from cues.speech import SpeechRenderer

if TYPE_CHECKING:
    from companion.daemon.coached_run import ActiveRun
    from companion.drills.player import DrillPlayer

log = logging.getLogger(__name__)


class Daemon:
    def __init__(self, config_file: Path | None = None, sock: Path | None = None):
        self.config_file = config_file
        # A broken file, or a catalogue or rules it names that cannot be used: refused at once.
        self.config: Config = load_config_checked(config_file)
        self.sock = sock or socket_path()
        self.run: ActiveRun | None = None
        self.last_run: dict[str, Any] | None = None
        self.notifier = sdnotify.SystemdNotifier()
        if self.notifier.socket is not None:
            # A notification systemd does not collect is dropped; it must never hold the loop.
            self.notifier.socket.setblocking(False)
        self.started = time.monotonic()
        self._watching: asyncio.Task[None] | None = None
        self.drill: DrillPlayer | None = None  # the drill session playing, between runs
        self._drill_task: asyncio.Task[None]
        self._starting = asyncio.Lock()
        self.sink: AudioSink  # opened by `main`, again when the sound settings change
        self.renderer: SpeechRenderer
        self.speaker: Speaker
        self._audio_config: tuple[SoundConfig, SpeechConfig] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # Set-up and the main loop --------------------------------------------------------------

    def _options(self, **given: Any) -> RunOptions:
        return RunOptions.configured(self.config, name="daemon", **given)

    async def _refresh_audio(self, first: bool = False) -> None:
        """The sound output and voice, opened again when their settings changed (between
        runs). Opening renders the catalogue, so it happens off the loop."""
        wanted = (self.config.sound, self.config.speech)
        if not first and wanted == self._audio_config:
            return
        old = None if first else (self.sink, self.renderer)
        # Problems (no device, no speech) go to the log.
        self.sink, self.renderer = await asyncio.to_thread(open_audio, self._options(), None)
        self.speaker = Speaker(self.renderer, self.sink)
        self._audio_config = wanted
        if old is not None:
            log.info("sound and voice opened again with the new settings")
            await asyncio.to_thread(self._close_audio, *old)

    def _close_audio(self, sink: AudioSink, renderer: SpeechRenderer) -> None:
        sink.close()  # plays out (or writes) what is queued
        renderer.close()

    async def main(self) -> int:
        loop = asyncio.get_running_loop()
        self.done = asyncio.Event()
        claim(self.sock)  # a second daemon stops here, before it opens anything
        await self._refresh_audio(first=True)  # the voice is there before any request
        await asyncio.to_thread(self._tidy_history)  # a run a killed daemon left is closed
        self.scheduler = new_scheduler(paths.schedule_db())
        self.scheduler.start(paused=True)  # stored reminders first, then the configuration
        self.reminders = Reminders(self.scheduler)
        self.reminders.sync(self.config.schedule.drill_reminders)
        server = await serve(self.sock, self.handle)
        unregister = on_reminder(self._reminder)
        self.scheduler.resume()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.done.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        watchdog = asyncio.create_task(self._watchdog())
        self._auto_start()
        self._background(self._prepare_reminder(), "rendering the drill reminder ahead")
        log.info("ready; listening on %s", self.sock)
        self.notifier.notify("READY=1")
        self.notify_status()
        try:
            await self.done.wait()
        finally:
            self.notifier.notify("STOPPING=1")
            log.info("stopping")
            if self.run is not None:
                await self.run.stop()
            if self._watching is not None:
                self._watching.cancel()
            watchdog.cancel()
            unregister()
            server.close()
            with contextlib.suppress(FileNotFoundError):
                self.sock.unlink()
            self.scheduler.shutdown(wait=False)
            await asyncio.to_thread(self._close_audio, self.sink, self.renderer)
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(signum)
        return 0

    def _tidy_history(self) -> None:
        from companion.history.recorder import housekeeping

        try:
            housekeeping(paths.history_db(), self.config.history.keep_detail_days)
        except (StoreError, sqlite3.Error, OSError) as err:
            log.error("the run history cannot be used (%s); runs are kept in files", err)

    async def _watchdog(self) -> None:
        """Tell systemd we are alive at half its watchdog period, while the loop turns."""
        usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        if usec <= 0:
            return
        while True:
            self.notifier.notify("WATCHDOG=1")
            await asyncio.sleep(usec / 2e6)

    def notify_status(self) -> None:
        phase = self.run.phase if self.run is not None else Phase.IDLE
        self.notifier.notify(f"STATUS={phase}")

    def reload(self) -> None:
        """SIGHUP: read the configuration again; a broken file leaves the old one in force."""
        try:
            config = load_config_checked(self.config_file)
        except (DataFileError, ConfigurationError) as err:  # the file, or one it names
            log.error("configuration not reloaded: %s", err)
            return
        self.config = config
        self.reminders.sync(config.schedule.drill_reminders)
        log.info("configuration reloaded; the next run uses it")
        if self.run is None:
            self._background(self._refresh_audio(), "opening the sound with the new settings")
            self._auto_start()

    def _background(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Run `work` on the loop, holding on to it until done, and log a failure."""
        task = asyncio.create_task(work)
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("%s failed: %s", what, t.exception())

        task.add_done_callback(done)

    # Runs -------------------------------------------------------------------------------

    async def start(self, request: Start) -> ActiveRun:
        from companion.daemon.coached_run import begin  # the analysis, loaded with the first run

        async with self._starting:  # two starts at once: the second finds the first's run
            if self.run is not None:
                self.run.lifecycle.check_start()  # refused, saying what the run is doing
            if self.drill is not None:
                title = self.drill.timeline.session.title
                raise LifecycleError(f"{title} is playing; `companion stop` ends it first")
            if self._watching is not None:
                self._watching.cancel()  # the run connects to the footpod itself
                await asyncio.gather(self._watching, return_exceptions=True)
                self._watching = None
            await self._refresh_audio()
            speed = request.speed if request.replay is not None else 1.0
            self.run = await begin(self, request, self._options(speed=speed))
        log.info("run started: %s", self.run.plan.header.source)
        self.notify_status()
        return self.run

    def run_ended(self, run: ActiveRun) -> None:
        summary = run.status.summary
        self.last_run = {
            "source": run.plan.header.source,
            "events_file": str(run.events_path),
            "raw_log": str(run.plan.raw_log_path) if run.plan.raw_log_path else None,
            "summary": summary.text if summary else None,
            "ended": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        if self.run is run:
            self.run = None
        log.info("run finished; events kept in %s", run.events_path)
        self._background(asyncio.to_thread(self._tidy_history), "tidying the history")
        self._background(self._prepare_reminder(), "rendering the drill reminder ahead")
        self.notify_status()
        self._auto_start()

    async def _reminder(self) -> None:
        if self.run is not None or self.drill is not None:
            log.info("drill reminder not said: a run or a session is going")
            return
        text = await self._reminder_text()
        log.info("drill reminder: %s", text)
        await self.speaker.say(text, "drill-reminder", 0.0, priority=60)

    async def _reminder_text(self) -> str:
        wording = load_catalogue(self.config.coach.cues)["drill-reminder"].say[0]
        return wording.format(session=await asyncio.to_thread(self._session_to_do))

    async def _prepare_reminder(self) -> None:
        """The next reminder's words rendered now, so that it never waits on speech: they
        change only when a run ends."""
        if self.config.schedule.drill_reminders:
            self.renderer.prepare([await self._reminder_text()])

    def _session_to_do(self) -> str:
        """The drill session for what the last run kept showed, as it is said (blocking)."""
        from companion.coaching.advice import for_run

        try:
            with Store(paths.history_db()) as history:
                last = history.last(closed=True)  # yours: never a replay
                episodes = history.episodes(last.id) if last is not None else []
        except (StoreError, sqlite3.Error) as err:
            log.warning("the last run cannot be read from the history (%s)", err)
            last, episodes = None, []
        duration = last.duration_s or 0.0 if last is not None else 0.0
        advice = for_run(episodes, duration)
        return advice.session.title.lower() if advice else "mobility first, then strength"

    # Auto-start ---------------------------------------------------------------------------

    def _auto_start(self) -> None:
        """Between runs, with `auto_start` on, watch the paired footpod for running."""
        if self.config.daemon.auto_start and self.run is None and self._watching is None:
            self._watching = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        from companion.daemon.coached_run import watch_footpod

        pod = await watch_footpod(self.config)
        self._watching = None  # this task ends here; `start` must not wait on it
        if pod is not None:
            log.info("running cadence on %s: starting a run", pod)
            await self.start(Start(cmd="start"))

    # The control socket ---------------------------------------------------------------------

    async def handle(self, request: AnyRequest) -> bytes:
        try:
            return await self._answer(request)
        except (LifecycleError, RunError, DataFileError) as err:
            return error_reply(str(err))
        except OSError as err:  # a full disk, a file that cannot be read
            log.error("%s failed: %s", request.cmd, err)
            return error_reply(f"{request.cmd} failed: {err}")

    async def _answer(self, request: AnyRequest) -> bytes:
        run = self.run
        if isinstance(request, Status):
            return reply(**self.describe())
        if isinstance(request, Say):
            t = run.session.now() if run is not None else 0.0
            await self.speaker.say(request.text, "say", t, priority=95)
            return reply(said=request.text)
        if isinstance(request, Start):
            run = await self.start(request)
            return reply(state=run.phase.value, source=run.plan.header.source)
        if isinstance(request, Drill):
            player = await self.play_drill(request)
            return reply(drill=self._describe_drill(player))
        if run is None and self.drill is not None:
            return reply(drill=self._control_drill(self.drill, request))
        if isinstance(request, Skip | Back | Repeat):
            raise LifecycleError(
                "no drill session is playing: start one with `companion drills play NAME`"
            )
        if run is None:
            raise LifecycleError(f"no run to {request.cmd}: start one with `companion start`")
        if isinstance(request, Pause):
            await run.pause()
            return reply(**run.describe())
        if isinstance(request, Resume):
            await run.resume()
            return reply(**run.describe())
        run.lifecycle.check_stop()
        summary = await run.stop()
        return reply(
            state=run.phase.value,
            summary=summary.text if summary else None,
            events_file=str(run.events_path),
            raw_log=str(run.plan.raw_log_path) if run.plan.raw_log_path else None,
        )

    # Drill sessions ---------------------------------------------------------------------

    async def play_drill(self, request: Drill) -> DrillPlayer:
        """Lead a drill session between runs (the voice work loaded with the first one)."""
        from companion.drills.player import DrillPlayer, timed
        from cues.drills import find_session

        async with self._starting:
            if self.run is not None:
                raise LifecycleError("a run is going: drill sessions are for between runs")
            if self.drill is not None:
                title = self.drill.timeline.session.title
                raise LifecycleError(f"{title} is playing; `companion stop` ends it")
            session = find_session(request.name)
            timeline = await asyncio.to_thread(timed, session, self.renderer)
            player = DrillPlayer(timeline, self.speaker)
            self.drill = player
        log.info("drill session: %s (%s)", session.title, clock(timeline.total_s))
        self._drill_task = asyncio.create_task(player.play())

        def over(_: asyncio.Task[None]) -> None:
            if self.drill is player:
                self.drill = None
                log.info("drill session over: %s", session.title)

        self._drill_task.add_done_callback(over)
        return player

    def _control_drill(self, player: DrillPlayer, request: AnyRequest) -> dict[str, Any]:
        """Pause, resume, skip, back, repeat or stop the session playing."""
        if isinstance(request, Pause):
            if player.paused:
                raise LifecycleError("the drill session is already paused")
            player.pause()
        elif isinstance(request, Resume):
            if not player.paused:
                raise LifecycleError("the drill session is not paused")
            player.resume()
        elif isinstance(request, Skip):
            player.skip()
        elif isinstance(request, Back):
            player.back()
        elif isinstance(request, Repeat):
            player.repeat()
        elif isinstance(request, Stop):
            self._drill_task.cancel()
            self.drill = None
            return {"stopped": player.timeline.session.title}
        return self._describe_drill(player)

    def _describe_drill(self, player: DrillPlayer) -> dict[str, Any]:
        timeline = player.timeline
        step = player.step()
        steps = timeline.session.steps
        return {
            "session": timeline.session.id,
            "title": timeline.session.title,
            "step": steps[step].name if 0 <= step < len(steps) else None,
            "at": clock(player.position()),
            "length": clock(timeline.total_s),
            "paused": player.paused,
        }

    def describe(self) -> dict[str, Any]:
        status: dict[str, Any] = (
            self.run.describe()
            if self.run is not None and self.run.phase in ACTIVE
            else {"state": Phase.FINISHED.value if self.last_run else Phase.IDLE.value}
        )
        next_reminder = self.reminders.next_time()
        status["next_drill_reminder"] = (
            next_reminder.isoformat(timespec="minutes") if next_reminder else None
        )
        status["auto_start"] = self._watching is not None
        if self.drill is not None:
            status["drill"] = self._describe_drill(self.drill)
        if self.last_run is not None:
            status["last_run"] = self.last_run
        status["daemon_up_s"] = round(time.monotonic() - self.started, 1)
        return status
