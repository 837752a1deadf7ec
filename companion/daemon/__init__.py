"""The service that waits between runs: the daemon and the run it leads, the control
protocol and its Unix socket (this user only), the drill reminders on APScheduler, and the
systemd user unit.

May import: companion.run, companion.history, companion.drills, companion.coaching,
companion.form, the top-level modules of companion, cues, sensors.
"""
