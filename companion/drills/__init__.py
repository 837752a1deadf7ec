"""Guided drill sessions: the timeline of what is said and ticked when (pure: driven by
the caller, as the engine is), and the player that voices it on a sound device or into
files. The advice of which drill answers which fault is companion.coaching.advice, since
the run's summary gives it too.

May import: companion.coaching, companion.form, the top-level modules of companion, cues.
"""
