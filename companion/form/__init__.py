"""What the motion says about form, with no I/O: metrics of one trunk sensor (steps,
orientation, alignment, the streaming trunk analysis) and of all of them together
(`analysis`), the run's record types, and the runner's baseline and drift (`drift`, with
its rules in `rules` and drift_rules.toml; hills in `terrain`, a sensor that moved in
`mounting`, the runner's own pace slopes in `pace`).

May import: the top-level modules of companion, cues (the faults, the data-file rules),
sensors (the samples). Never an I/O library (sounddevice, bleak, bumble, sqlite3, socket,
subprocess).
"""
