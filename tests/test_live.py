"""The live path end to end on a real BLE stack with virtual sensors: bleak over the Bumble
backend connecting to Bumble peripherals that play a real recording."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from companion.run.demo import DEMO_RECORDING
from sensors.bluetooth.live import LiveSource
from sensors.bluetooth.virtual import Motion, VirtualFootpod, VirtualImu, VirtualStrap
from sensors.clock import UnpacedClock
from sensors.profiles import Role
from sensors.recorded.rawlog import RawLogSource, RawLogWriter
from sensors.recorded.recording import AccelTrack, load_recording
from sensors.samples import (
    AccelBatch,
    BatteryLevel,
    FootpodSample,
    GyroBatch,
    HeartRateSample,
    Link,
    Sample,
    SensorStatus,
)
from tests.ble_world import (
    BOARD,
    FOOTPOD,
    STRAP,
    TWIN,
    accel,
    collect,
    footpod_script,
    heart_script,
    motion,
    start,
    world,
)
from tests.test_cli import companion


@pytest.fixture(scope="module")
def hip() -> AccelTrack:
    return load_recording(DEMO_RECORDING).track("hip")


def statuses(samples: list[Sample]) -> list[tuple[str, Link]]:
    return [(s.sensor, s.link) for s in samples if isinstance(s, SensorStatus)]


# Generous: a wait ends on what it waits for, this only bounds a failure on a busy machine.
PATIENCE_S = 90.0


async def until(source: LiveSource, enough: Callable[[list[Sample]], bool]) -> list[Sample]:
    """Samples from `source` until there are `enough` of what the test needs."""
    samples = await collect(source, PATIENCE_S, until=enough)
    assert enough(samples), f"not there within {PATIENCE_S:g} s: {statuses(samples)}"
    return samples


def last_t(sample: Sample) -> float:
    return float(sample.t[-1]) if isinstance(sample, AccelBatch | GyroBatch) else sample.t


def motion_samples(samples: list[Sample]) -> int:
    return len(accel(samples)[1])


def where(values: np.ndarray, run: np.ndarray, atol: float = 0.0) -> int:
    """Where in `values` the received `run` lies, every sample of it within `atol` (a
    sample may come more than once in a recording: the whole run decides)."""
    n = len(run)
    assert 0 < n <= len(values)
    firsts = np.flatnonzero(np.all(np.abs(values[: len(values) - n + 1] - run[0]) <= atol, axis=1))
    for i in firsts:
        if np.all(np.abs(values[i : i + n] - run) <= atol):
            return int(i)
    raise AssertionError("the received samples are not one stretch of the recording")


@pytest.mark.parametrize("compressed", [False, True], ids=["raw-frames", "compressed-frames"])
def test_the_strap_streams_exactly_the_recorded_samples(hip: AccelTrack, compressed: bool) -> None:
    async def scenario() -> list[Sample]:
        async with world(speed=20) as w:
            w.add(
                STRAP,
                VirtualStrap,
                "Strap",
                motion=motion(hip),
                heart=heart_script(),
                compressed=compressed,
            )
            w.add(FOOTPOD, VirtualFootpod, "Footpod", script=footpod_script())
            await start(w)
            return await until(
                w.live([(STRAP, Role.CHEST), (FOOTPOD, Role.FOOTPOD)]),
                lambda got: (
                    motion_samples(got) >= 3000  # 30 s of recording at 100 Hz
                    and any(isinstance(s, HeartRateSample) for s in got)
                    and any(isinstance(s, FootpodSample) for s in got)
                ),
            )

    samples = asyncio.run(scenario())
    t, xyz = accel(samples)
    i = where(hip.xyz, xyz)
    np.testing.assert_array_equal(xyz, hip.xyz[i : i + len(xyz)])  # every sample, in order
    assert np.all(np.diff(t) > 0)
    beats = [s.bpm for s in samples if isinstance(s, HeartRateSample)]
    pods = [s for s in samples if isinstance(s, FootpodSample)]
    assert beats and set(beats) == {150.0}
    assert pods and {p.cadence_spm for p in pods} == {158.0}
    assert all(p.speed_mps == pytest.approx(3.1, abs=1 / 256) for p in pods)
    assert sorted(statuses(samples)) == [("Footpod", Link.CONNECTED), ("Strap", Link.CONNECTED)]


def test_a_board_on_the_plain_imu_profile(hip: AccelTrack) -> None:
    async def scenario() -> tuple[list[Sample], float]:
        async with world(speed=20) as w:
            board = w.add(BOARD, VirtualImu, "Board", motion=motion(hip))
            await start(w)
            samples = await until(
                w.live([(BOARD, Role.PELVIS)]), lambda got: motion_samples(got) >= 2000
            )
            return samples, board.config.accel_g_per_lsb

    samples, lsb = asyncio.run(scenario())
    t, xyz = accel(samples)
    # The recording in counts of the board's range: each sample within half a count. (Not
    # where the first sample fits best: one in eight of the recording's samples comes twice.)
    i = where(hip.xyz, xyz, atol=lsb / 2 + 1e-9)
    np.testing.assert_allclose(xyz, hip.xyz[i : i + len(xyz)], atol=lsb / 2 + 1e-9)
    # Spacing from the board's own clock (100 Hz), never backwards.
    assert np.all(np.diff(t) > 0) and np.median(np.diff(t)) == pytest.approx(0.01)


def test_a_sensor_lost_mid_run_is_reconnected_and_the_stream_goes_on(hip: AccelTrack) -> None:
    def streamed_since(link: Link, samples: list[Sample]) -> int:
        """Accelerometer samples since the (last) status `link`, if there is one."""
        at = [i for i, s in enumerate(samples) if isinstance(s, SensorStatus) and s.link is link]
        return motion_samples(samples[at[-1] :]) if at else 0

    async def scenario() -> tuple[list[Sample], float, float]:
        async with world(speed=10) as w:
            strap = w.add(STRAP, VirtualStrap, "Strap", motion=motion(hip), heart=heart_script())
            await start(w)
            stream = w.live([(STRAP, Role.CHEST)]).stream()
            samples: list[Sample] = []

            async def upto(enough: Callable[[], bool]) -> None:
                async with asyncio.timeout(PATIENCE_S):
                    while not enough():
                        samples.append(await anext(stream))

            try:
                await upto(lambda: streamed_since(Link.CONNECTED, samples) >= 500)
                await strap.go_away()
                await upto(lambda: Link.LOST in [link for _, link in statuses(samples)])
                lost = w.playback.position()  # the sensor's time when the run knew it lost
                await w.playback.until(lost + 10.0)  # ten seconds of recording, away
                back = w.playback.position()
                await strap.come_back()
                await upto(lambda: streamed_since(Link.BACK, samples) >= 500)
            finally:
                await stream.aclose()
            return samples, lost, back

    samples, lost, back = asyncio.run(scenario())
    assert statuses(samples) == [
        ("Strap", Link.CONNECTED),
        ("Strap", Link.LOST),
        ("Strap", Link.BACK),
    ]
    gone, returned = (
        next(i for i, s in enumerate(samples) if isinstance(s, SensorStatus) and s.link is link)
        for link in (Link.LOST, Link.BACK)
    )
    before, after = accel(samples[:gone])[1], accel(samples[returned:])[1]
    # Each side is a stretch of the recording, every sample of it (not smeared) ...
    i, j = where(hip.xyz, before), where(hip.xyz, after)
    np.testing.assert_array_equal(before, hip.xyz[i : i + len(before)])
    np.testing.assert_array_equal(after, hip.xyz[j : j + len(after)])
    # ... and the gap between is a gap: what was sent before the sensor went is all due
    # by the time it was known lost, and the stream goes on from where the recording was
    # when the sensor came back, not from where it stopped (ten seconds are missing).
    assert hip.t[i + len(before) - 1] <= lost + 1e-6
    assert hip.t[j] >= back - 1e-6


def test_an_unpaired_sensor_is_never_connected(hip: AccelTrack) -> None:
    async def scenario() -> tuple[list[Sample], int, int]:
        async with world(speed=10) as w:
            w.add(STRAP, VirtualStrap, "Strap", motion=motion(hip), heart=heart_script())
            twin = w.add(TWIN, VirtualStrap, "Strap", motion=motion(hip), heart=heart_script(99))
            connected = 0

            def counted(_conn: object) -> None:
                nonlocal connected
                connected += 1

            twin.device.on("connection", counted)
            await start(w)
            samples = await until(
                w.live([(STRAP, Role.CHEST)]),  # five seconds of recording, heart and motion
                lambda got: (
                    sum(isinstance(s, HeartRateSample) for s in got) >= 5
                    and motion_samples(got) >= 500
                ),
            )
            return samples, connected, len(twin.requests)

    samples, twin_connections, twin_requests = asyncio.run(scenario())
    assert twin_connections == 0 and twin_requests == 0
    assert {s.bpm for s in samples if isinstance(s, HeartRateSample)} == {150.0}  # not 99
    assert statuses(samples) == [("Strap", Link.CONNECTED)]


def test_battery_and_what_the_strap_was_asked(hip: AccelTrack) -> None:
    async def scenario() -> tuple[list[Sample], list[bytes]]:
        async with world(speed=10) as w:
            strap = w.add(
                STRAP,
                VirtualStrap,
                "Strap",
                motion=motion(hip),
                heart=heart_script(),
                battery=9,
                rates=(25, 50, 100),
            )
            await start(w)
            source = w.live([(STRAP, Role.PELVIS)])
            # Two seconds of motion: a heartbeat, had it been asked for, would have come.
            return await until(source, lambda got: motion_samples(got) >= 200), strap.requests

    samples, requests = asyncio.run(scenario())
    assert [s.percent for s in samples if isinstance(s, BatteryLevel)] == [9]
    # It asked what the strap offers, then the offered rate nearest 100 Hz and 8 g.
    assert [r.hex(" ") for r in requests] == ["01 02", "02 02 00 01 64 00 01 01 10 00 02 01 08 00"]
    assert not [s for s in samples if isinstance(s, HeartRateSample)]  # pelvis: motion only


def test_the_raw_log_replays_to_the_same_samples(hip: AccelTrack, tmp_path: Path) -> None:
    path = tmp_path / "run.pcraw"

    async def scenario() -> list[Sample]:
        async with world(speed=10) as w:
            w.add(
                STRAP,
                VirtualStrap,
                "Strap",
                motion=motion(hip),
                heart=heart_script(),
                compressed=True,
            )
            w.add(FOOTPOD, VirtualFootpod, "Footpod", script=footpod_script(), strides=True)
            await start(w)
            log = RawLogWriter.create(path)
            try:
                return await until(  # 30 s of the run: the windows analyze needs
                    w.live([(STRAP, Role.CHEST), (FOOTPOD, Role.FOOTPOD)], raw_log=log),
                    lambda got: (
                        motion_samples(got) >= 3000
                        and sum(isinstance(s, FootpodSample) for s in got) >= 30
                    ),
                )
            finally:
                log.close()

    live = [s for s in asyncio.run(scenario()) if not isinstance(s, SensorStatus)]
    assert path.stat().st_mode & 0o777 == 0o600
    log_samples = [s for _, s in RawLogSource(path, UnpacedClock()).timed()]
    replayed = [s for s in log_samples if not isinstance(s, SensorStatus)]
    # The log keeps every notification in the order heard: what the run read comes first,
    # then what came while it stopped reading (how much depends on how busy the machine is).
    assert len(replayed) >= len(live)
    for a, b in zip(live, replayed[: len(live)], strict=True):
        assert type(a) is type(b)
        if isinstance(a, AccelBatch) and isinstance(b, AccelBatch):
            np.testing.assert_array_equal(a.xyz, b.xyz)
            np.testing.assert_allclose(a.t, b.t, atol=0.002)  # the log keeps milliseconds
        elif isinstance(a, FootpodSample) and isinstance(b, FootpodSample):
            assert a.cadence_spm == b.cadence_spm and a.speed_mps == b.speed_mps
    # The footpod counted strides: taken as steps until ten readings at a running pace
    # have shown it, then doubled; live and replayed alike.
    cadences = [s.cadence_spm for s in replayed if isinstance(s, FootpodSample)]
    assert cadences == [79.0] * 9 + [158.0] * (len(cadences) - 9)

    # And `companion analyze` reads the same log: the strap's windows and the footpod's.
    done = companion("analyze", str(path), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["duration_s"] == pytest.approx(max(last_t(s) for s in log_samples), abs=0.01)
    seen = {k for m in result["minutes"] for k in m["values"]}
    assert {"chest.cadence_spm", "footpod.speed_mps", "footpod.stride_m"} <= seen


def test_a_gyroscope_is_started_where_the_strap_has_one(hip: AccelTrack) -> None:
    """Test motion (labelled as such): a made-up pelvis rotation of ±40 deg/s at 1.3 Hz."""
    t = hip.t
    rotation = np.stack([40 * np.sin(2 * np.pi * 1.3 * t), 5 * np.cos(t), np.zeros_like(t)], 1)

    async def scenario() -> tuple[list[Sample], list[bytes]]:
        async with world(speed=10) as w:
            strap = w.add(
                STRAP,
                VirtualStrap,
                "Strap",
                motion=motion(hip),
                heart=heart_script(),
                gyro=Motion(t, rotation),
            )
            await start(w)
            samples = await until(
                w.live([(STRAP, Role.PELVIS)]),
                lambda got: (
                    motion_samples(got) >= 500
                    and sum(len(s.t) for s in got if isinstance(s, GyroBatch)) >= 500
                ),
            )
            return samples, strap.requests

    samples, requests = asyncio.run(scenario())
    assert [r[:2].hex() for r in requests] == ["0102", "0202", "0105", "0205"]  # ACC, then GYRO
    assert requests[-1][-4:] == bytes([0x02, 0x01]) + (2000).to_bytes(2, "little")  # widest
    spins = [s for s in samples if isinstance(s, GyroBatch)]
    assert all(s.placement.value == "pelvis" for s in spins)
    got = np.vstack([s.xyz for s in spins])
    factor = float(np.float32(2000 / 32768))
    # Every sample of one stretch of the made-up motion, in order, rounded twice on the way
    # (to thousandths, then to counts): within half a count and a bit. The motion nearly
    # repeats (every 710 s), so the whole stream decides where, never its first sample.
    tolerance = factor / 2 + 0.001
    i = where(rotation, got, atol=tolerance)
    np.testing.assert_allclose(got, rotation[i : i + len(got)], atol=tolerance)
    # The accelerometer streams alongside: the recording, every sample, at the same time.
    t, xyz = accel(samples)
    k = where(hip.xyz, xyz)
    np.testing.assert_array_equal(xyz, hip.xyz[k : k + len(xyz)])
    spun = np.concatenate([s.t for s in spins])
    assert np.all(np.diff(spun) > 0) and max(t[0], spun[0]) < min(t[-1], spun[-1])
