"""The runs kept: the SQLite store and its migrations, the recorder that writes a run as it
happens, recovery after a killed process, retention, imports of recordings, exports (CSV,
JSON, FIT) and the report of a run (`report`).

May import: companion.coaching, companion.form, the top-level modules of companion, cues,
sensors.
"""
