"""systemd's sd_notify protocol (READY=1, WATCHDOG=1, STATUS=..., STOPPING=1).

A datagram to the socket named in $NOTIFY_SOCKET; a no-op when not run by systemd. Written
here rather than depending on ``sdnotify``, which ships no wheel (the Pi install is wheels only).
"""
from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class SystemdNotifier:
    def __init__(self) -> None:
        address = os.environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # abstract namespace socket
            address = "\0" + address[1:]
        self._address = address or None
        self._socket: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, message: str) -> bool:
        """Send one state line; never raises (the daemon must run on without systemd)."""
        if self._address is None:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto(message.encode("utf-8"), self._address)
            return True
        except OSError as exc:
            if not self._warned:
                log.warning("sd_notify to %s failed: %s", self._address, exc)
                self._warned = True
            return False

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def watchdog_interval_s(self) -> float | None:
        """Half of systemd's WatchdogSec, the usual ping interval; None when no watchdog is set."""
        usec = os.environ.get("WATCHDOG_USEC")
        if not usec or not usec.isdigit():
            return None
        pid = os.environ.get("WATCHDOG_PID")
        if pid and pid.isdigit() and int(pid) != os.getpid():
            return None
        return int(usec) / 2e6
