"""Motion recorded earlier: CSV recordings (their columns, units and sample rate checked
against what the numbers say) and raw logs of Bluetooth notifications, read back at any
pace as a source.

May import: the modules of sensors, sensors.protocols, sensors.samples.
"""
