"""Sans-IO decoders for the sensors runners own: bytes in, typed values out.

Nothing here touches a radio, a file or a clock. Every malformed payload raises
`DecodeError`, and nothing else, so a transport can count bad packets and go on.
May import only sensors.samples.
"""

from sensors.protocols.errors import DecodeError

__all__ = ["DecodeError"]
