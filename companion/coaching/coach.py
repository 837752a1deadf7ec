"""The coach policy: what to say and when. Pure; the caller passes the run time in.

- one utterance at a time, with a little quiet after each;
- nothing about form while the baseline is being learned or the runner has stopped;
- a form cue when a drift starts, at most `max_form_cues_per_min` a minute, each cue no
  sooner than its own cool-down after it was last said;
- while a drift persists past its cue's cool-down, the cue again in different (escalation)
  wording;
- a tilt cue that went unanswered twice is not repeated a third time: the coach asks, once
  a run, whether the strap moved (a sensor that slid reads exactly like the fault);
- silence while the runner is on target, and a short confirmation when a drift ends soon
  after its cue (not when it ended because the sensor moved);
- announcements and confirmations before form talk when both wait (catalogue priorities),
  and dropped rather than said late.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cues.catalogue import Catalogue, Category, Cue

if TYPE_CHECKING:
    from companion.form.record import Episode


@dataclass(frozen=True)
class CoachSettings:
    max_form_cues_per_min: int = 2
    gap_s: float = 4.0  # quiet after each utterance
    form_gap_s: float = 20.0  # between two form cues: one thing at a time, then time to act
    confirm_within_s: float = 120.0  # a drift ending this soon after its cue gets a "that's it"
    stale_after_s: float = 20.0  # an announcement not said by then is dropped


@dataclass(frozen=True)
class Utterance:
    t: float
    cue_id: str
    text: str
    category: Category
    priority: int
    about: str | None = None  # the fault a form cue or confirmation is about
    episode: int | None = None  # the drift a form cue answers


def estimate_duration(text: str) -> float:
    """Seconds espeak-ng takes to say `text` at its default rate (measured: ~16 chars/s)."""
    return 0.3 + 0.062 * len(text)


# Drifts of these metrics are what a sensor sliding on the body looks like.
TILTS = ("lean_deg", "lumbar_arch_deg")
STRAP_CHECK = "strap-check"


@dataclass
class _Watch:
    episode: Episode
    cue: Cue
    said_at: float | None = None
    said: int = 0


@dataclass
class _Pending:
    cue: Cue
    created: float
    about: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


class Coach:
    def __init__(
        self,
        catalogue: Catalogue,
        settings: CoachSettings | None = None,
        duration_of: Callable[[str], float] = estimate_duration,
    ):
        self.catalogue = catalogue
        self.settings = settings or CoachSettings()
        self.duration_of = duration_of
        self.quiet = False
        self._watches: dict[int, _Watch] = {}
        self._pending: list[_Pending] = []
        self._busy_until = float("-inf")
        self._last_said: dict[str, float] = {}
        self._form_times: deque[float] = deque()
        self._turns: dict[tuple[str, bool], int] = {}
        confirmations = [c for c in catalogue if c.category is Category.CONFIRMATION]
        self._confirmation = max(confirmations, key=lambda c: c.priority, default=None)
        self._strap_check = catalogue.cues.get(STRAP_CHECK)  # asked once a run, then None

    # Inputs ---------------------------------------------------------------------------

    def drift_started(self, episode: Episode) -> None:
        cue = self.catalogue.for_fault(episode.fault)
        if cue is not None:
            self._watches[episode.id] = _Watch(episode, cue)

    def drift_ended(self, episode: Episode, now: float) -> None:
        watch = self._watches.pop(episode.id, None)
        if (
            watch is not None
            and not episode.moved
            and watch.said_at is not None
            and now - watch.said_at <= self.settings.confirm_within_s
            and self._confirmation is not None
            and not self.quiet
        ):
            self._pending.append(_Pending(self._confirmation, now, episode.fault.value))

    def announce(self, cue_id: str, now: float, **fields: str) -> None:
        """Say `cue_id` soon (its placeholders filled from `fields`)."""
        self._pending.append(_Pending(self.catalogue[cue_id], now, fields=fields))

    def withdraw(self, cue_id: str, **fields: str) -> bool:
        """Take back `cue_id` with these `fields` if it is still waiting to be said (news
        that is no longer true); whether it was."""
        waiting = [p for p in self._pending if p.cue.id == cue_id and p.fields == fields]
        self._pending = [p for p in self._pending if p not in waiting]
        return bool(waiting)

    def set_quiet(self, quiet: bool) -> None:
        """Quiet while the runner is stopped: nothing waiting is kept for later."""
        self.quiet = quiet
        if quiet:
            self._pending = [p for p in self._pending if p.cue.category is Category.SYSTEM]

    # Output ---------------------------------------------------------------------------

    def poll(self, now: float) -> Utterance | None:
        """The one thing to say now, if any."""
        s = self.settings
        if now < self._busy_until + s.gap_s:
            return None
        self._pending = [p for p in self._pending if now - p.created <= s.stale_after_s]
        while self._form_times and self._form_times[0] <= now - 60.0:
            self._form_times.popleft()

        options: list[tuple[int, float, Cue, bool, _Pending | _Watch]] = [
            (p.cue.priority, -p.created, p.cue, False, p)
            for p in self._pending
            if self._cooled(p.cue, now)
        ]
        form_ok = len(self._form_times) < s.max_form_cues_per_min and (
            not self._form_times or now - self._form_times[-1] >= s.form_gap_s
        )
        if not self.quiet and form_ok:
            for w in self._watches.values():
                due = w.said_at is None or now - w.said_at >= w.cue.cooldown_s
                cue = self._cue_for(w)
                if due and self._cooled(cue, now):
                    options.append((cue.priority, -w.episode.start, cue, w.said_at is not None, w))
        if not options:
            return None
        _, _, cue, escalate, chosen = max(options, key=lambda o: (o[0], o[1]))

        text = self._wording(cue, escalate and cue.category is Category.FORM)
        if isinstance(chosen, _Pending) and chosen.fields:
            text = text.format(**chosen.fields)
        self._busy_until = now + self.duration_of(text)
        self._last_said[cue.id] = now
        if isinstance(chosen, _Watch):
            chosen.said_at = now
            chosen.said += 1
            if cue is self._strap_check:
                self._strap_check = None
            self._form_times.append(now)
            about: str | None = chosen.episode.fault.value
            episode: int | None = chosen.episode.id
        else:
            self._pending.remove(chosen)
            about, episode = chosen.about, None
        return Utterance(now, cue.id, text, cue.category, cue.priority, about, episode)

    def _cue_for(self, w: _Watch) -> Cue:
        """The drift's own cue, or the strap question in place of a tilt cue's third go."""
        tilt = w.episode.metric.endswith(TILTS)
        if tilt and w.said >= 2 and self._strap_check is not None:
            return self._strap_check
        return w.cue

    def _cooled(self, cue: Cue, now: float) -> bool:
        last = self._last_said.get(cue.id)
        return last is None or now - last >= cue.cooldown_s

    def _wording(self, cue: Cue, escalate: bool) -> str:
        wordings = cue.escalate if escalate else cue.say
        turn = self._turns.get((cue.id, escalate), 0)
        self._turns[(cue.id, escalate)] = turn + 1
        return wordings[turn % len(wordings)]
