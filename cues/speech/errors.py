"""What goes wrong in speech, as the renderer tells it."""


class SpeechError(RuntimeError):
    """Speech could not be rendered (engine missing, unknown voice, empty output, no room)."""


class VoiceUnavailable(SpeechError):
    """The engine or voice asked for cannot be loaded: the other engine may stand in."""
