"""The pure run core: the engine a caller drives with samples and time, the coach's policy
(which cue, when, how often), the events a run gives out, its lifecycle, its timetable of
announcements by running time, numbers in words, and the spoken summary.

May import: companion.form, the top-level modules of companion, cues, sensors. Never an
I/O library: the engine is driven by the caller, as h11's connection is.
"""
