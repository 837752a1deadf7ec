"""Bumble devices that talk to each other with no radio: a virtual link and controllers.

In one process, every device gets its own virtual controller on a shared `LocalLink`. Across
processes (`companion simulate` beside a live run), the simulator owns the link and serves
one more controller on a TCP port on 127.0.0.1, which the product opens as
``tcp-client:127.0.0.1:PORT``.

Bumble's virtual controller (0.0.236) needs two fixes, made here:

- LE Create Connection Cancel returns success but leaves the connection pending and never
  sends the failure event the spec requires: a connect that times out then hangs forever
  and every later connect is refused;
- HCI Reset keeps advertising, scanning and connections: a product restarted against a
  running simulator would find its sensors still "connected" to the old one.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from bumble import hci, ll
from bumble.controller import Controller
from bumble.device import Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink, Transport


class VirtualController(Controller):
    def on_hci_le_create_connection_cancel_command(self, command: Any) -> Any:
        pending = self.pending_le_connection
        self.pending_le_connection = None
        if pending is None:
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)

        def fail() -> None:
            self.send_hci_packet(
                hci.HCI_LE_Connection_Complete_Event(
                    status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                    connection_handle=0,
                    role=hci.Role.CENTRAL,
                    peer_address_type=pending.peer_address_type,
                    peer_address=pending.peer_address,
                    connection_interval=0,
                    peripheral_latency=0,
                    supervision_timeout=0,
                    central_clock_accuracy=0,
                )
            )

        # The command's completion must reach the host before the failure event.
        asyncio.get_running_loop().call_soon(fail)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)

    def on_hci_reset_command(self, command: Any) -> Any:
        self.forget_host()
        return super().on_hci_reset_command(command)

    def forget_host(self) -> None:
        """Stop advertising and scanning and drop every link, telling the peers."""
        self.le_legacy_advertiser.stop()
        for advertising_set in self.advertising_sets.values():
            advertising_set.stop()
        self.advertising_sets.clear()
        self.le_scan_enable = False
        self.pending_le_connection = None
        for connection in list(self.le_connections.values()):
            with contextlib.suppress(Exception):  # the peer may be gone already
                connection.send_ll_control_pdu(
                    ll.TerminateInd(hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR)
                )
            del self.le_connections[connection.peer_address]


def local_device(link: LocalLink, name: str, address: str) -> Device:
    """A device with its own virtual controller on `link` (call inside the event loop)."""
    controller = VirtualController(f"controller-{name}", link=link)
    host = Host(controller, AsyncPipeSink(controller))
    return Device(name=name, address=hci.Address(address), host=host)


async def serve_controller(link: LocalLink, port: int, name: str = "product") -> Transport:
    """One more controller on `link`, served on 127.0.0.1:`port` for another process."""
    transport = await open_transport(f"tcp-server:127.0.0.1:{port}")
    VirtualController(name, host_source=transport.source, host_sink=transport.sink, link=link)
    return transport
