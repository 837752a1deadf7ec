"""The live path end to end on a real BLE stack with virtual sensors: bleak over the Bumble
backend connecting to Bumble peripherals that play a real recording."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from companion.run.demo import DEMO_RECORDING
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
    locate,
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
            return await collect(w.live([(STRAP, Role.CHEST), (FOOTPOD, Role.FOOTPOD)]), 3.0)

    samples = asyncio.run(scenario())
    t, xyz = accel(samples)
    assert len(xyz) > 3000  # about 60 s of recording at 100 Hz in 3 s
    i = locate(hip, xyz)
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
            return await collect(w.live([(BOARD, Role.PELVIS)]), 2.0), board.config.accel_g_per_lsb

    samples, lsb = asyncio.run(scenario())
    t, xyz = accel(samples)
    assert len(xyz) > 2000
    start_t = float(np.argmin(np.abs(hip.xyz - xyz[0]).sum(axis=1)))
    i = int(start_t)
    np.testing.assert_allclose(xyz, hip.xyz[i : i + len(xyz)], atol=lsb / 2 + 1e-9)
    # Spacing from the board's own clock (100 Hz), never backwards.
    assert np.all(np.diff(t) > 0) and np.median(np.diff(t)) == pytest.approx(0.01)


def test_a_sensor_lost_mid_run_is_reconnected_and_the_stream_goes_on(hip: AccelTrack) -> None:
    async def scenario() -> list[Sample]:
        async with world(speed=10) as w:
            strap = w.add(STRAP, VirtualStrap, "Strap", motion=motion(hip), heart=heart_script())
            await start(w)
            source = w.live([(STRAP, Role.CHEST)])

            async def away_and_back() -> None:
                await asyncio.sleep(1.0)
                await strap.go_away()
                await asyncio.sleep(1.0)
                await strap.come_back()

            trouble = asyncio.create_task(away_and_back())
            samples = await collect(source, 4.0)
            await trouble
            return samples

    samples = asyncio.run(scenario())
    assert statuses(samples) == [
        ("Strap", Link.CONNECTED),
        ("Strap", Link.LOST),
        ("Strap", Link.BACK),
    ]
    lost = next(
        i for i, s in enumerate(samples) if isinstance(s, SensorStatus) and s.link is Link.LOST
    )
    back = next(
        i for i, s in enumerate(samples) if isinstance(s, SensorStatus) and s.link is Link.BACK
    )
    before, after = accel(samples[:lost]), accel(samples[back:])
    assert len(before[1]) > 500 and len(after[1]) > 500  # streaming before and after
    # The gap is a gap: about ten seconds of recording at 10x are missing, not smeared.
    i, j = locate(hip, before[1]), locate(hip, after[1])
    gap_s = (j - (i + len(before[1]))) / 100
    assert 5 < gap_s < 25


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
            samples = await collect(w.live([(STRAP, Role.CHEST)]), 2.0)
            return samples, connected, len(twin.requests)

    samples, twin_connections, twin_requests = asyncio.run(scenario())
    assert twin_connections == 0 and twin_requests == 0
    assert {s.bpm for s in samples if isinstance(s, HeartRateSample)} == {150.0}


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
            return await collect(source, 1.5), strap.requests

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
                return await collect(
                    w.live([(STRAP, Role.CHEST), (FOOTPOD, Role.FOOTPOD)], raw_log=log), 2.5
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
    # The footpod counted strides; both live and replayed say steps.
    assert {s.cadence_spm for s in replayed if isinstance(s, FootpodSample)} >= {158.0}

    # And `companion analyze` reads the same log: the strap's windows and the footpod's.
    done = companion("analyze", str(path), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert 20 < result["duration_s"] < 40
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
            return await collect(w.live([(STRAP, Role.PELVIS)]), 2.0), strap.requests

    samples, requests = asyncio.run(scenario())
    assert [r[:2].hex() for r in requests] == ["0102", "0202", "0105", "0205"]  # ACC, then GYRO
    assert requests[-1][-4:] == bytes([0x02, 0x01]) + (2000).to_bytes(2, "little")  # widest
    spins = [s for s in samples if isinstance(s, GyroBatch)]
    assert spins and all(s.placement.value == "pelvis" for s in spins)
    got = np.vstack([s.xyz for s in spins])
    factor = float(np.float32(2000 / 32768))
    # Where in the made-up motion the stream began: of the places its first sample fits
    # (a periodic motion has many), the one the whole stream fits best.
    near = np.abs(rotation[:, :2] - got[0, :2]).sum(axis=1)
    starts = [k for k in np.flatnonzero(near < 0.2) if k + len(got) <= len(rotation)]
    i = min(starts, key=lambda k: float(np.abs(rotation[k : k + len(got)] - got).max()))
    # Rounded twice on the way (to thousandths, then to counts): half a count and a bit.
    np.testing.assert_allclose(got, rotation[i : i + len(got)], atol=factor / 2 + 0.001)
    assert len(accel(samples)[1]) > 1000  # the accelerometer streams alongside
