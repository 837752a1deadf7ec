"""A coached session from any source: a live run on Bluetooth sensors, a replay of a
recording or raw log, the demo; the session that feeds the engine and voices its events,
the printed timeline and events file, the run's settings, and made-up faults to inject.

May import: companion.history, companion.drills, companion.coaching, companion.form, the
top-level modules of companion, cues, sensors.
"""
