"""The coach: it learns a runner's form, hears it drift and says a short cue.

From the top down, each package imports only those below it (tests/test_layers.py keeps it
so): `cli` (the command line) and `lab` (validation) → `daemon` (the service) → `run` (a
coached session from any source) → `history` and `drills` → `coaching` (the pure run core)
→ `form` (what the motion says) → the top-level modules `config`, `paths`, `outputs` and
`logs` → the `cues` and `sensors` packages beside this one.
"""
