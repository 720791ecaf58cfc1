import socket

import pytest

from edge_alpr.notify import SystemdNotifier


@pytest.fixture
def notify_socket(tmp_path, monkeypatch):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def test_messages_reach_the_socket(notify_socket):
    n = SystemdNotifier()
    assert n.enabled
    assert n.ready("camera open")
    assert notify_socket.recv(256) == b"READY=1\nSTATUS=camera open"
    assert n.watchdog()
    assert notify_socket.recv(256) == b"WATCHDOG=1"
    assert n.stopping()
    assert notify_socket.recv(256) == b"STOPPING=1"


def test_without_systemd_nothing_is_sent(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    n = SystemdNotifier()
    assert not n.enabled
    assert n.ready() is False


def test_dead_socket_does_not_raise(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    assert SystemdNotifier().watchdog() is False


@pytest.mark.parametrize("usec,pid_matches,expected", [("30000000", True, 15.0), (None, True, None), ("30000000", False, None)])
def test_watchdog_interval(monkeypatch, usec, pid_matches, expected):
    import os

    if usec is None:
        monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    else:
        monkeypatch.setenv("WATCHDOG_USEC", usec)
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() if pid_matches else os.getpid() + 1))
    assert SystemdNotifier().watchdog_interval_s() == expected
