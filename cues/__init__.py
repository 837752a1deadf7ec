"""What is said and how it sounds: the cue catalogue, the drills' files, speech rendering
and its cache, earcons, and audio out (a sound device, or WAV files).

May import: sensors (never companion: the coach uses these, they do not know it).
"""
