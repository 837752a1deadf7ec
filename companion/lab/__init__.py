"""The analysis measured against known answers: validation on the bundled recordings and
treadmill trials, and made-up motion with known angles and steps. Used by the tests and
benchmarks, never by the product.

May import: every package of companion but cli, cues, sensors.
"""
