"""The ducking guard: holds the volumes other audio had before a cue turned it down, and
puts them back if the process that ducked it ends without doing so.

Reads JSON lines on standard input, each ``{"ducked": {index: [raw volume, ...]}}`` (an
empty mapping once restored); at the end of input, which comes however the parent ends,
restores whatever is still ducked. Run as ``python -m cues.duckguard``.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from cues.soundserver import Volumes, set_volumes


def main() -> int:
    # A Ctrl-C or a stop meant for the parent must not end the guard before the parent has
    # cleaned up; the guard ends when its input does.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ducked: Volumes = {}
    for line in sys.stdin:
        try:
            ducked = json.loads(line)["ducked"]
        except (ValueError, KeyError, TypeError):
            continue
    if ducked:
        set_volumes(ducked, dict(os.environ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
