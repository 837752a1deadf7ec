"""The demo: a real 25-minute outdoor run, with a labelled form fault added, coached aloud.

The recording is the hip-belt accelerometer of the ADEPT outdoor run (GPL-3 data, see
companion/run/data/README.md). It has stops between bouts, which pause the coach. It holds no
posture fault, so one is injected into the third running bout (about 9:20 into the run):
the pelvis tips forward by up to 6 degrees and the steps lengthen by 6 % with harder
landings, then the runner corrects. The coach knows nothing of this; its cues come from its
own detector.
"""

from __future__ import annotations

from pathlib import Path

from companion.coaching.events import Event, FaultCleared, FaultInjected
from companion.run.inject import FormFault, inject_fault
from sensors.recorded.recording import Recording, load_recording

DEMO_RECORDING = Path(__file__).parent / "data" / "outdoor_run_hip_100hz.csv.xz"

# The GT9X sat upright on the left hip with its x axis pointing forward: in every running
# bout x is the axis that decelerates at each landing.
DEMO_FAULT = FormFault(
    start_s=560.0,
    ramp_s=40.0,
    hold_s=90.0,
    release_s=20.0,
    tilt_deg=6.0,
    step_lengthening=0.06,
    braking_gain=0.1,  # a foot landing ahead of the body brakes harder
    forward_axis=(1.0, 0.0, 0.0),
)
FAULT_ID = "anterior_tilt+overstride"


def demo_recording(fault: FormFault = DEMO_FAULT) -> tuple[Recording, list[Event]]:
    """The bundled run with the fault injected, and the markers saying where it is."""
    clean = load_recording(DEMO_RECORDING)
    hip = inject_fault(clean.track("hip"), fault)
    recording = Recording(
        name=f"{clean.name} (with an injected fault)",
        accel=(hip,),
        notes=(fault.describe("the pelvis"),),
    )
    markers: list[Event] = [
        FaultInjected(t=fault.start_s, id=FAULT_ID, text=fault.describe("the pelvis")),
        FaultCleared(t=fault.end_s, id=FAULT_ID, text="Injected fault fully corrected (demo)."),
    ]
    return recording, markers
