"""What is said and how it sounds: the cue catalogue, speech rendering and audio output."""
