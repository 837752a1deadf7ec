"""Live sensors over Bluetooth LE: the live source that finds, connects, subscribes and
reconnects (bleak), the transport it goes through (BlueZ, or Bumble's virtual controller),
virtual twins of the sensors that speak their real protocols, and the paired list.

May import: sensors.recorded (the raw log written as notifications come), the modules of
sensors, sensors.protocols, sensors.samples.
"""
