"""The command line: the argparse front (`main`) and a module for each group of commands,
which turn arguments into the settings of the layer that does the work, call it, and print.

May import: every package of companion but lab, cues, sensors.
"""
