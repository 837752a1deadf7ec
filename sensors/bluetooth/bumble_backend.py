"""A bleak backend over Bumble: the product's BLE code runs unchanged on a USB Bluetooth
dongle without BlueZ, or against virtual sensors on a virtual controller.

    BumbleRadio.configure(transport="usb:0")                  # a dongle
    BumbleRadio.configure(transport="tcp-client:127.0.0.1:9001")   # companion simulate
    BleakScanner(backend=BumbleScanner); BleakClient(device, backend=BumbleClient)

Devices carry ``{"bumble_address": Address}`` as their details, which bleak-retry-connector
takes for "not a BlueZ device", so it never looks for D-Bus.
"""

from __future__ import annotations

import asyncio
import logging
import uuid as uuidlib
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CHARACTERISTIC_PROPERTIES
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError, BleakGATTProtocolError
from bumble import core, hci
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.transport import open_transport
from bumble.transport.common import Transport, TransportLostError

log = logging.getLogger(__name__)
CENTRAL_ADDRESS = "C0:DE:00:00:00:01"
T = TypeVar("T")

_SERVICE_LISTS = (
    AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
)


def bleak_uuid(u: core.UUID) -> str:
    """A Bumble UUID as bleak writes them: lowercase, 128-bit."""
    return str(uuidlib.UUID(bytes=bytes(reversed(u.uuid_128_bytes))))


class BumbleRadio:
    """The one Bumble central of the process: bleak's "adapter"."""

    _transport_spec: ClassVar[str | None] = None
    _device: ClassVar[Device | None] = None
    _instance: ClassVar[BumbleRadio | None] = None

    def __init__(self, device: Device, transport: Transport | None) -> None:
        self.device = device
        self.transport = transport
        self.connecting = asyncio.Lock()  # one pending LE connection at a time
        self._scanners = 0
        self._scan_lock = asyncio.Lock()

    @classmethod
    def configure(cls, *, transport: str | None = None, device: Device | None = None) -> None:
        """Use a transport (``usb:0``, ``tcp-client:HOST:PORT``) or a ready device."""
        cls._transport_spec, cls._device, cls._instance = transport, device, None
        cls._creating = None

    _creating: ClassVar[asyncio.Task[BumbleRadio] | None] = None

    @classmethod
    async def get(cls) -> BumbleRadio:
        """The radio, opened once however many scanners and clients ask at the same time."""
        radio = cls._instance
        if radio is not None and radio.transport is not None and radio.transport_lost():
            # The other end went away (a simulator restarted): open the transport again.
            cls._instance = radio = None
        if radio is None:
            if cls._creating is None or cls._creating.done():
                cls._creating = asyncio.get_running_loop().create_task(cls._open())
            radio = cls._instance = await asyncio.shield(cls._creating)
        return radio

    @classmethod
    async def _open(cls) -> BumbleRadio:
        transport = None
        if cls._device is not None:
            device = cls._device
        elif cls._transport_spec:
            try:
                transport = await open_transport(cls._transport_spec)
            except Exception as err:
                raise BleakError(f"cannot open {cls._transport_spec}: {err}") from err
            device = Device.with_hci(
                "posture-companion",
                hci.Address(CENTRAL_ADDRESS),
                transport.source,
                transport.sink,
            )
        else:
            raise BleakError("the Bumble transport is not configured")
        if not device.powered_on:
            await device.power_on()
        return cls(device, transport)

    def transport_lost(self) -> bool:
        terminated = getattr(self.transport.source, "terminated", None) if self.transport else None
        return isinstance(terminated, asyncio.Future) and terminated.done()

    @classmethod
    async def close(cls) -> None:
        radio, cls._instance = cls._instance, None
        if radio is not None and radio.transport is not None:
            await radio.transport.close()

    async def scanning(self, active: bool, on: bool) -> None:
        """Scanners share the radio: the first starts the scan, the last stops it."""
        async with self._scan_lock:
            try:
                if self.transport_lost():
                    # Nothing can be sent any more: a command would wait out its timeout.
                    raise BleakError("the Bluetooth transport was lost")
                if on and self._scanners == 0:
                    await self.device.start_scanning(active=active, filter_duplicates=False)
                elif not on and self._scanners == 1 and self.device.powered_on:
                    await asyncio.wait_for(self.device.stop_scanning(), timeout=2.0)
            except Exception as err:  # the transport went away under us, or the controller
                self.forget_if_lost()
                if on:
                    raise BleakError(f"cannot scan: {err}") from err
            self._scanners = max(0, self._scanners + (1 if on else -1))

    def forget_if_lost(self) -> None:
        """A radio whose transport is gone is opened again by the next caller."""
        if self.transport_lost() and BumbleRadio._instance is self:
            BumbleRadio._instance = None


def advertisement_data(adv: Advertisement) -> AdvertisementData:
    # The virtual controller answers a scan request with the advertising data again, and
    # Bumble joins the two: drop the repeats.
    structures = list(dict.fromkeys(adv.data.ad_structures))
    ad = AdvertisingData(structures)
    name = ad.get(AdvertisingData.COMPLETE_LOCAL_NAME) or ad.get(
        AdvertisingData.SHORTENED_LOCAL_NAME
    )
    uuids: list[str] = []
    for kind in _SERVICE_LISTS:
        for listed in ad.get_all(kind):
            if isinstance(listed, list):
                uuids += [bleak_uuid(u) for u in listed if bleak_uuid(u) not in uuids]
    manufacturer = {
        int.from_bytes(raw[:2], "little"): bytes(raw[2:])
        for raw in ad.get_all(AdvertisingData.MANUFACTURER_SPECIFIC_DATA, raw=True)
    }
    tx = ad.get(AdvertisingData.TX_POWER_LEVEL)
    return AdvertisementData(
        local_name=name if isinstance(name, str) else None,
        manufacturer_data=manufacturer,
        service_data={},
        service_uuids=uuids,
        tx_power=int(tx) if isinstance(tx, int) else None,
        rssi=adv.rssi,
        platform_data=(adv,),
    )


class BumbleScanner(BaseBleakScanner):
    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._active = scanning_mode != "passive"
        self._radio: BumbleRadio | None = None

    def _heard(self, adv: Advertisement) -> None:
        data = advertisement_data(adv)
        if not self.is_allowed_uuid(data.service_uuids):
            return
        address = adv.address.to_string(with_type_qualifier=False)
        device = self.create_or_update_device(
            address, address, data.local_name, {"bumble_address": adv.address}, data
        )
        self.call_detection_callbacks(device, data)

    async def start(self) -> None:
        self._radio = await BumbleRadio.get()
        self.seen_devices = {}
        self._radio.device.on(Device.EVENT_ADVERTISEMENT, self._heard)
        await self._radio.scanning(self._active, on=True)

    async def stop(self) -> None:
        if self._radio is not None:
            self._radio.device.remove_listener(Device.EVENT_ADVERTISEMENT, self._heard)
            await self._radio.scanning(self._active, on=False)
            self._radio = None


class BumbleClient(BaseBleakClient):
    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        services: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        details = getattr(address_or_ble_device, "details", None)
        if isinstance(details, dict) and "bumble_address" in details:
            self._peer_address: hci.Address = details["bumble_address"]
            self._name = getattr(address_or_ble_device, "name", None)
        else:
            self._peer_address = hci.Address(self.address)
            self._name = None
        self._only = services
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        return self._name or self.address

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        timeout = float(kwargs.get("timeout", self._timeout))
        radio = await BumbleRadio.get()
        async with radio.connecting:
            try:
                connection = await radio.device.connect(self._peer_address, timeout=timeout)
            except core.TimeoutError as err:
                raise TimeoutError(f"timed out connecting to {self.address}") from err
            except Exception as err:  # HCI errors, a transport lost mid-connect ...
                radio.forget_if_lost()
                raise BleakError(f"cannot connect to {self.address}: {err}") from err
        self._connection = connection
        connection.on(Connection.EVENT_DISCONNECTION, self._lost)
        try:
            self._peer = Peer(connection)
            await self._peer.request_mtu(247)
            await self._peer.discover_all()  # type: ignore[no-untyped-call]
            self.services = self._services(self._peer)
        except BaseException:
            await self.disconnect()
            raise

    def _lost(self, reason: int) -> None:
        connected = self._connection is not None
        self._connection = self._peer = None
        self._subscribers.clear()
        if connected and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        if self._connection is not None:
            try:
                await self._connection.disconnect()
            except Exception as err:  # already gone is as good as disconnected
                log.debug("disconnect from %s: %s", self.address, err)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError("bonding is not needed by these sensors and not offered over Bumble")

    async def unpair(self) -> None:
        raise BleakError("bonding is not needed by these sensors and not offered over Bumble")

    def _services(self, peer: Peer) -> BleakGATTServiceCollection:
        services = BleakGATTServiceCollection()
        for sp in peer.services:
            uuid = bleak_uuid(sp.uuid)
            if self._only and uuid not in self._only:
                continue
            service = BleakGATTService(sp, sp.handle, uuid)
            services.add_service(service)
            for cp in sp.characteristics:
                props = [n for bit, n in CHARACTERISTIC_PROPERTIES.items() if cp.properties & bit]
                char = BleakGATTCharacteristic(
                    cp, cp.handle, bleak_uuid(cp.uuid), props, lambda: self.mtu_size - 3, service
                )
                services.add_characteristic(char)
                for dp in cp.descriptors:
                    services.add_descriptor(
                        BleakGATTDescriptor(dp, dp.handle, bleak_uuid(dp.type), char)
                    )
        return services

    async def _gatt(self, operation: Awaitable[T]) -> T:
        if self._connection is None:
            if asyncio.iscoroutine(operation):
                operation.close()
            raise BleakError("not connected")
        try:
            return await operation
        except TransportLostError as err:
            raise BleakError("the Bluetooth transport was lost") from err
        except core.ProtocolError as err:
            raise BleakGATTProtocolError(err.error_code or 0) from err
        except core.TimeoutError as err:
            raise TimeoutError(str(err)) from err
        except asyncio.CancelledError:
            # Bumble cancels a pending request when the link drops: that is a lost
            # connection, not a cancelled task.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            raise BleakError("the connection was lost during a GATT operation") from None

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kw: Any
    ) -> bytearray:
        return bytearray(await self._gatt(characteristic.obj.read_value()))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kw: Any
    ) -> bytearray:
        return bytearray(await self._gatt(descriptor.obj.read_value()))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        await self._gatt(characteristic.obj.write_value(bytes(data), with_response=response))

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        await self._gatt(descriptor.obj.write_value(bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kw: Any
    ) -> None:
        if self._peer is None:
            raise BleakError("not connected")

        def deliver(value: bytes) -> None:
            callback(bytearray(value))

        self._subscribers[characteristic.handle] = deliver
        await self._gatt(self._peer.gatt_client.subscribe(characteristic.obj, deliver, True))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        deliver = self._subscribers.pop(characteristic.handle, None)
        if self._peer is not None:
            await self._gatt(self._peer.gatt_client.unsubscribe(characteristic.obj, deliver))
