"""The report's colours, one meaning each, shared by the figure and its trends."""

INK = "#263238"
VALUE = "#1565c0"  # the metric's own line
BASE = "#2e7d32"  # the runner's baseline, the band around it, runs without drift
DRIFT = "#ef6c00"  # drift episodes and when they began
DRIFT_TEXT = "#bf360c"
FORM_CUE = "#c62828"
OTHER_CUE = "#78909c"  # announcements, confirmations
STOPPED = "#bdbdbd"
LEARNING = "#eef3f8"
