"""The pure decoders: the shared byte vectors, round trips, a differential test against the
bluetooth-sig library, and fuzzing (bad bytes raise DecodeError and nothing else)."""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bluetooth_sig.gatt.characteristics.battery_level import BatteryLevelCharacteristic
from bluetooth_sig.gatt.characteristics.cycling_power_measurement import (
    CyclingPowerMeasurementCharacteristic,
)
from bluetooth_sig.gatt.characteristics.heart_rate_measurement import (
    HeartRateMeasurementCharacteristic,
)
from bluetooth_sig.gatt.characteristics.rsc_measurement import RSCMeasurementCharacteristic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensors.decoding import SensorDecoder
from sensors.profiles import HR_MEASUREMENT, RSC_MEASUREMENT, Role
from sensors.protocols import DecodeError, battery, cycling_power, heart_rate, imu, pmd, rsc
from sensors.samples import FootpodSample, HeartRateSample, Sample
from tests.conftest import DATA

VECTORS = DATA / "ble_vectors.json"


def vectors(kind: str) -> list[dict[str, Any]]:
    if not VECTORS.exists():
        pytest.skip(f"no byte vectors at {VECTORS}")
    data: dict[str, Any] = json.loads(VECTORS.read_text())
    return list(data[kind])


def ids(kind: str) -> list[str]:
    return [v["hex"][:30] for v in vectors(kind)] if VECTORS.exists() else []


@pytest.mark.parametrize("v", vectors("rsc") if VECTORS.exists() else [], ids=ids("rsc"))
def test_rsc_vectors(v: dict[str, Any]) -> None:
    data, e = bytes.fromhex(v["hex"]), v["expect"]
    if e.get("valid") is False:
        with pytest.raises(DecodeError):
            rsc.decode_measurement(data)
        return
    m = rsc.decode_measurement(data)
    checks = {
        "speed_mps": m.speed_mps,
        "speed_raw": round(m.speed_mps * 256),
        "cadence_per_min": m.cadence_per_min,
        "stride_length_m": m.stride_length_m,
        "total_distance_m": m.total_distance_m,
        "running": m.running,
        "stride_length_present": m.stride_length_m is not None,
        "total_distance_present": m.total_distance_m is not None,
        "stride_length_raw_cm": None
        if m.stride_length_m is None
        else round(m.stride_length_m * 100),
        "total_distance_raw_dm": None
        if m.total_distance_m is None
        else round(m.total_distance_m * 10),
    }
    for key, expected in e.items():
        assert checks[key] == pytest.approx(expected), key


@pytest.mark.parametrize("v", vectors("hrs") if VECTORS.exists() else [], ids=ids("hrs"))
def test_heart_rate_vectors(v: dict[str, Any]) -> None:
    data, e = bytes.fromhex(v["hex"]), v["expect"]
    if e.get("valid") is False:
        with pytest.raises(DecodeError):
            heart_rate.decode_measurement(data)
        return
    h = heart_rate.decode_measurement(data)
    raw = [round(r * 1024) for r in h.rr_s]
    checks = {
        "heart_rate_bpm": h.bpm,
        "hr_uint16": bool(data[0] & 1),
        "sensor_contact": h.contact.value,
        "energy_expended_kJ": h.energy_kj,
        "rr_raw_1024": raw,
        "rr_s": list(h.rr_s),
        "rr_ms_truncated": [r * 1000 // 1024 for r in raw],
    }
    for key, expected in e.items():
        if key == "rr_s" and expected is None:
            expected = []  # the source's "no RR intervals"
        assert checks[key] == pytest.approx(expected), key


@pytest.mark.parametrize("v", vectors("battery") if VECTORS.exists() else [], ids=ids("battery"))
def test_battery_vectors(v: dict[str, Any]) -> None:
    data, e = bytes.fromhex(v["hex"]), v["expect"]
    if e.get("valid") is False:
        with pytest.raises(DecodeError):
            battery.decode_level(data)
    else:
        assert battery.decode_level(data) == e["battery_percent"]


@pytest.mark.parametrize(
    "v", vectors("polar_pmd_acc") if VECTORS.exists() else [], ids=ids("polar_pmd_acc")
)
def test_polar_accelerometer_vectors(v: dict[str, Any]) -> None:
    data, e = bytes.fromhex(v["hex"]), v["expect"]
    factor = e.get("factor", 1.0)
    f = pmd.decode_frame(data, factor=factor)
    assert (f.measurement, f.timestamp_ns, f.frame_type) == (
        e["measurement_type"],
        e["timestamp_ns"],
        e["frame_type_byte"],
    )
    assert f.compressed is e["compressed"] and len(f.samples) == e["sample_count"]
    if "first_samples_xyz" in e:
        assert f.samples[:2].tolist() == e["first_samples_xyz"]
        assert f.samples[-1].tolist() == e["last_sample_xyz"]
    if "samples_xyz" in e:
        assert f.samples.tolist() == e["samples_xyz"]
    if "raw_first_samples" in e:  # compressed type 0 arrives in g: factor x 1000 to milli-g
        raw = np.rint(f.samples[:2] / (factor * 1000)).astype(int)
        assert raw.tolist() == e["raw_first_samples"]
        assert np.trunc(f.samples[:2]).astype(int).tolist() == e["mG_first_samples_truncated"]


def test_polar_requests_and_responses() -> None:
    # Start the accelerometer at 200 Hz, 16 bits, 8 g, as Polar's SDK sends it.
    S = pmd.Setting
    start = pmd.start_request(
        pmd.Measurement.ACC, {S.SAMPLE_RATE: 200, S.RESOLUTION: 16, S.RANGE: 8}
    )
    assert start.hex(" ") == "02 02 00 01 c8 00 01 01 10 00 02 01 08 00"
    assert pmd.stop_request(pmd.Measurement.ACC) == b"\x03\x02"
    ok = pmd.decode_response(bytes.fromhex("f0 02 02 00 00 05 01 00 00 80 3f"))
    assert ok.ok and ok.settings == {pmd.Setting.FACTOR: (1.0,)}
    refused = pmd.decode_response(bytes.fromhex("f0 02 02 08"))
    assert not refused.ok and refused.problem == "invalid sample rate"
    offers = pmd.decode_response(
        pmd.encode_response(
            1,
            2,
            settings={pmd.Setting.SAMPLE_RATE: (25, 50, 100, 200), pmd.Setting.RANGE: (2, 4, 8)},
        )
    )
    assert offers.settings[pmd.Setting.SAMPLE_RATE] == (25, 50, 100, 200)
    assert pmd.decode_features(bytes.fromhex("0f 05 00")) == {
        pmd.Measurement.ECG,
        pmd.Measurement.ACC,
    }
    # The second byte holds types 8 to 15: SDK mode is type 9 (a Verity Sense has it).
    assert pmd.decode_features(bytes.fromhex("0f 24 02")) == {
        pmd.Measurement.ACC,
        pmd.Measurement.GYRO,
        pmd.Measurement.SDK_MODE,
    }
    # A device that stops a stream by itself says so: 01, then the types it stopped.
    assert pmd.decode_stopped(bytes.fromhex("01 02 05")) == [2, 5]


def test_a_start_carries_every_setting_the_device_offers() -> None:
    S = pmd.Setting
    offers = {
        S.SAMPLE_RATE: (25, 50, 100, 200),
        S.RESOLUTION: (16,),
        S.RANGE: (2, 4, 8),
        S.CHANNELS: (3,),
    }
    assert pmd.chosen(offers, 90, 8) == {
        S.SAMPLE_RATE: 100,
        S.RESOLUTION: 16,
        S.RANGE: 8,
        S.CHANNELS: 3,
    }
    # Without a wanted range, the widest (a gyroscope's); a rate halfway takes the higher.
    gyro = {S.SAMPLE_RATE: (26, 52), S.RANGE: (250, 2000), S.FACTOR: (0.06,)}
    assert pmd.chosen(gyro, 39) == {S.SAMPLE_RATE: 52, S.RANGE: 2000}


def test_a_response_in_parts_is_joined() -> None:
    """A settings list longer than a small MTU comes in parts, each with the five-byte head
    and "more" set on all but the last."""
    S = pmd.Setting
    whole = pmd.encode_response(
        1, 2, settings={S.SAMPLE_RATE: (25, 50, 100, 200), S.RESOLUTION: (16,), S.RANGE: (2, 4, 8)}
    )
    head, body = whole[:4], whole[5:]
    parts = [head + b"\x01" + body[:9], head + b"\x01" + body[9:15], head + b"\x00" + body[15:]]
    joiner = pmd.Responses()
    assert [joiner.feed(p) for p in parts[:2]] == [None, None]
    joined = joiner.feed(parts[2])
    assert joined is not None and not joined.more
    assert joined.settings == pmd.decode_response(whole).settings
    assert joiner.feed(whole) == joined  # and the next response stands alone


def test_a_device_clock_that_jumps_starts_afresh() -> None:
    """An H10 resets its clock off the strap (to 2019): the samples after it keep the run's
    time, as if nothing had happened, and the jump is counted."""
    from sensors.protocols.timebase import DeviceClock

    clock = DeviceClock(ticks_per_s=1e9)
    before = 7.5e17  # 2023, in Polar's nanoseconds
    reset = 5.99616e17  # the default time it goes back to
    times = []
    for i in range(40):
        raw = (before if i < 20 else reset) + (i % 20) * 0.18e9
        arrival = 50.0 + i * 0.18 + (0.03 if i % 2 else 0.005)
        device_s = clock.seconds(int(raw))
        times.append(device_s + clock.place(device_s, arrival))
    assert clock.jumps == 1
    steps = np.diff(times)
    assert np.all(steps > 0) and np.all(np.abs(steps - 0.18) < 0.03)


@given(
    st.lists(st.tuples(*[st.integers(-20000, 20000)] * 3), min_size=1, max_size=80),
    st.sampled_from([0x00, 0x01, 0x02, 0x80, 0x81]),
    st.integers(0, 2**63),
)
def test_polar_frames_round_trip(
    samples: list[tuple[int, int, int]], frame_type: int, stamp: int
) -> None:
    values = np.array(samples)
    if frame_type == 0x00:
        values = np.clip(values, -128, 127)
    # Factor 0.001 turns compressed type 0's g back into the milli-g it was made of.
    factor = 0.001 if frame_type == 0x80 else 1.0
    frame = pmd.decode_frame(
        pmd.encode_frame(pmd.Measurement.ACC, stamp, values, frame_type), factor
    )
    assert np.rint(frame.samples).astype(int).tolist() == values.tolist()
    assert frame.timestamp_ns == stamp and frame.compressed is bool(frame_type & 0x80)


def test_gyroscope_frames_are_compressed_type_0_in_degrees_per_second() -> None:
    counts = np.array([[100, -200, 300], [110, -190, 290], [90, -230, 330]])
    frame = pmd.decode_frame(pmd.encode_frame(pmd.Measurement.GYRO, 5, counts, 0x80), 0.0305)
    np.testing.assert_allclose(frame.samples, counts * 0.0305)
    for frame_type in (0x01, 0x81):  # raw gyroscope frames and float deltas: not read
        with pytest.raises(DecodeError, match="not a motion frame"):
            pmd.decode_frame(pmd.encode_frame(pmd.Measurement.GYRO, 5, counts, frame_type))


@given(
    st.integers(1, 1000),
    st.floats(1e-5, 1.0),
    st.floats(1e-4, 10.0),
    st.booleans(),
    st.lists(st.tuples(*[st.integers(-32768, 32767)] * 6), min_size=1, max_size=30),
    st.integers(0, 255),
    st.integers(0, 2**32 - 1),
)
def test_imu_profile_round_trip(
    rate: int,
    accel: float,
    gyro: float,
    has_gyro: bool,
    samples: list[tuple[int, ...]],
    seq: int,
    us: int,
) -> None:
    config = imu.ImuConfig(rate, accel, gyro if has_gyro else 0.0, has_gyro)
    decoded = imu.decode_config(config.encode())
    assert decoded.rate_hz == rate and decoded.gyroscope == config.gyroscope
    counts = np.array(samples, dtype=float)
    frame = imu.decode_frame(
        imu.encode_frame(seq, us, counts[:, :3], counts[:, 3:] if config.gyroscope else None),
        decoded,
    )
    assert (frame.sequence, frame.first_us) == (seq, us)
    np.testing.assert_allclose(frame.accel_g, counts[:, :3] * decoded.accel_g_per_lsb)
    assert (frame.gyro_dps is not None) == config.gyroscope


# Differential: on well-formed payloads we and bluetooth-sig must agree on every field.
rsc_payloads = st.builds(
    lambda flags, speed, cadence, stride, dist: (
        struct.pack("<BHB", flags, speed, cadence)
        + (struct.pack("<H", stride) if flags & 1 else b"")
        + (struct.pack("<I", dist) if flags & 2 else b"")
    ),
    st.integers(0, 7),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFF),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
)
hr_payloads = st.builds(
    lambda flags, bpm, energy, rr: (
        bytes([flags])
        + (struct.pack("<H", bpm) if flags & 1 else bytes([bpm & 0xFF]))
        + (struct.pack("<H", energy) if flags & 8 else b"")
        + (struct.pack(f"<{len(rr)}H", *rr) if flags & 0x10 else b"")
    ),
    st.integers(0, 0x1F),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=9),
)
THEIR_RSC = RSCMeasurementCharacteristic()
THEIR_HR = HeartRateMeasurementCharacteristic()
THEIR_BATTERY = BatteryLevelCharacteristic()
CONTACT = {
    "NOT_SUPPORTED": "not_supported",
    "NOT_DETECTED": "supported_not_detected",
    "DETECTED": "supported_detected",
}


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(rsc_payloads)
def test_rsc_agrees_with_bluetooth_sig(data: bytes) -> None:
    ours, theirs = rsc.decode_measurement(data), THEIR_RSC.parse_value(data)
    assert ours.speed_mps == pytest.approx(theirs.instantaneous_speed)
    assert ours.cadence_per_min == theirs.instantaneous_cadence
    assert ours.running == theirs.is_running
    for mine, other in (
        (ours.stride_length_m, theirs.instantaneous_stride_length),
        (ours.total_distance_m, theirs.total_distance),
    ):
        assert (mine is None) == (other is None)
        if mine is not None:
            assert mine == pytest.approx(other)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(hr_payloads)
def test_heart_rate_agrees_with_bluetooth_sig(data: bytes) -> None:
    ours, theirs = heart_rate.decode_measurement(data), THEIR_HR.parse_value(data)
    assert ours.bpm == theirs.heart_rate
    assert ours.contact.value == CONTACT[theirs.sensor_contact.name]
    assert ours.energy_kj == theirs.energy_expended
    assert list(ours.rr_s) == pytest.approx(list(theirs.rr_intervals))


THEIR_POWER = CyclingPowerMeasurementCharacteristic()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 0x1FFF), st.integers(0, 2000), st.binary(min_size=0, max_size=30))
def test_running_power_agrees_with_bluetooth_sig(flags: int, watts: int, rest: bytes) -> None:
    data = struct.pack("<Hh", flags, watts) + rest
    try:
        ours = cycling_power.decode_power(data)
    except DecodeError:
        return  # a length its flags do not allow
    assert ours == THEIR_POWER.parse_value(data).instantaneous_power


@given(st.integers(0, 100))
def test_battery_agrees_with_bluetooth_sig(level: int) -> None:
    assert battery.decode_level(bytes([level])) == THEIR_BATTERY.parse_value(bytes([level]))


# Fuzzing: whatever arrives, a decoder raises DecodeError or returns; nothing else.
DECODERS: list[Callable[[bytes], object]] = [
    rsc.decode_measurement,
    rsc.decode_feature,
    heart_rate.decode_measurement,
    battery.decode_level,
    pmd.decode_frame,
    pmd.decode_response,
    pmd.decode_features,
    pmd.decode_settings,
    imu.decode_config,
    pmd.decode_stopped,
    lambda d: pmd.Responses().feed(d),
    cycling_power.decode_power,
    lambda d: imu.decode_frame(d, imu.ImuConfig(100, 0.001)),
    lambda d: imu.decode_frame(d, imu.ImuConfig(100, 0.001, 0.1, True)),
]


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    return st.builds(
        lambda cut, flips: bytes(b ^ flips.get(i, 0) for i, b in enumerate(seed[:cut])),
        st.integers(0, len(seed) + 4),
        st.dictionaries(st.integers(0, max(0, len(seed) - 1)), st.integers(1, 255), max_size=4),
    )


SEEDS = [
    bytes.fromhex("07 34 12 56 89 07 04 03 02 01"),
    bytes.fromhex("1f 01 01 32 01 01 00 02 01 ff ff"),
    pmd.encode_frame(2, 10**18, np.arange(30).reshape(10, 3), 0x81),
    pmd.encode_frame(2, 10**18, np.arange(30).reshape(10, 3), 0x02),
    pmd.encode_response(
        2, 2, settings={pmd.Setting.SAMPLE_RATE: (200,), pmd.Setting.FACTOR: (1.0,)}
    ),
    imu.encode_frame(1, 2, np.ones((5, 3))),
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=300), *[mutated(s) for s in SEEDS]))
def test_bad_bytes_raise_decode_error_and_nothing_else(data: bytes) -> None:
    for decode in DECODERS:
        with contextlib.suppress(DecodeError):
            decode(data)


@settings(max_examples=100)
@given(st.lists(st.one_of(st.binary(max_size=40), rsc_payloads, hr_payloads), max_size=30))
def test_a_sensor_decoder_counts_bad_packets_and_goes_on(packets: list[bytes]) -> None:
    """Every packet, on each characteristic it is sent to, is accounted for exactly once:
    the one sample the pure decoder reads in it, or one bad packet (and why)."""
    decoder = SensorDecoder("pod", Role.FOOTPOD)
    cadence = rsc.CadenceNormalizer()  # what the decoder's own one must say, reading for reading

    def expected(uuid: str, data: bytes, t: float) -> Sample:
        if uuid == RSC_MEASUREMENT:
            m = rsc.decode_measurement(data)
            steps = cadence.steps_per_min(m)
            return FootpodSample(t, m.speed_mps, steps, m.stride_length_m, m.total_distance_m)
        h = heart_rate.decode_measurement(data)
        return HeartRateSample(t, float(h.bpm), h.rr_s)

    bad = 0
    for i, data in enumerate(packets):
        for uuid in (RSC_MEASUREMENT, HR_MEASUREMENT):
            try:
                want: list[Sample] = [expected(uuid, data, float(i))]
            except DecodeError as err:
                want, bad, problem = [], bad + 1, str(err)
            assert decoder.packet(uuid, data, float(i)) == want, (uuid, data.hex(" "))
            assert decoder.bad_packets == bad
            if not want:
                assert decoder.last_problem == problem
    good = struct.pack("<BHB", 0, 768, 170)  # still working: 3 m/s at 170
    assert decoder.packet(RSC_MEASUREMENT, good, 99.0) == [expected(RSC_MEASUREMENT, good, 99.0)]
    assert decoder.bad_packets == bad


def test_strides_per_minute_are_detected_and_doubled() -> None:
    steps, strides = rsc.CadenceNormalizer(), rsc.CadenceNormalizer()
    for _ in range(12):
        steps.steps_per_min(rsc.RscMeasurement(3.0, 164))
        strides.steps_per_min(rsc.RscMeasurement(3.0, 82))
    assert steps.unit is rsc.CadenceUnit.STEPS and strides.unit is rsc.CadenceUnit.STRIDES
    assert strides.steps_per_min(rsc.RscMeasurement(3.0, 80)) == 160
    forced = rsc.CadenceNormalizer(rsc.CadenceUnit.STRIDES)
    assert forced.steps_per_min(rsc.RscMeasurement(1.0, 50)) == 100
    walking = rsc.CadenceNormalizer()  # slow readings do not decide it
    for _ in range(20):
        walking.steps_per_min(rsc.RscMeasurement(1.2, 55))
    assert walking.unit is rsc.CadenceUnit.AUTO


def test_device_clock_unwraps_and_ignores_late_packets() -> None:
    from sensors.protocols.timebase import DeviceClock

    clock = DeviceClock(ticks_per_s=1_000_000, wrap_ticks=2**32)
    start = 2**32 - 500_000  # half a second before the board's counter wraps
    offsets = []
    for i in range(20):
        device_s = clock.seconds((start + i * 200_000) % 2**32)
        delay = 0.5 if i % 3 else 0.01  # most packets late, some nearly on time
        offsets.append(clock.place(device_s, 100.0 + i * 0.2 + delay) + device_s)
    assert math.isclose(offsets[-1], 100.0 + 19 * 0.2 + 0.01, abs_tol=1e-9)
    assert all(b > a for a, b in itertools.pairwise(offsets))


def test_the_documented_imu_example_decodes_as_documented() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "imu-profile.md").read_text()
    assert "01 00 64 00 00 00 80 39 00 00 00 00" in doc
    config = imu.decode_config(bytes.fromhex("01 00 64 00 00 00 80 39 00 00 00 00"))
    frame = imu.decode_frame(
        bytes.fromhex("07 40 42 0f 00 02 00 00 00 00 00 10 01 00 ff ff 00 10"), config
    )
    assert (config.rate_hz, config.accel_g_per_lsb, frame.sequence, frame.first_us) == (
        100,
        8 / 32768,
        7,
        1_000_000,
    )
    assert frame.accel_g[0].tolist() == [0.0, 0.0, 1.0]
