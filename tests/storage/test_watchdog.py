"""The watchdog cuts a connection at its deadline, also one armed after a later one, and lets a
call that ends in time keep its connection."""

from __future__ import annotations

import socket
import time

from storage.watchdog import Watchdog


def _closed_by_peer(sock: socket.socket, within: float) -> float | None:
    """Seconds until `sock` reads EOF (its peer was shut down), or None."""
    sock.settimeout(within)
    started = time.monotonic()
    try:
        return time.monotonic() - started if sock.recv(1) == b"" else None
    except TimeoutError:
        return None


def test_a_shorter_deadline_armed_after_a_longer_one_is_kept() -> None:
    dog = Watchdog()
    slow, slow_peer = socket.socketpair()
    fast, fast_peer = socket.socketpair()
    with slow, slow_peer, fast, fast_peer:
        dog.arm(slow, 30.0)  # the thread now sleeps until this one
        time.sleep(0.05)
        dog.arm(fast, 0.2)  # earlier: the thread must wake for it
        waited = _closed_by_peer(fast_peer, within=3.0)
        assert waited is not None and waited < 1.5, waited
        assert dog.cut == 1
        dog.disarm(slow)
        assert _closed_by_peer(slow_peer, within=0.1) is None


def test_later_deadlines_are_cut_in_turn_and_a_disarmed_one_is_not() -> None:
    dog = Watchdog()
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        kept, cut_first, cut_later = pairs
        dog.arm(kept[0], 0.2)
        dog.arm(cut_first[0], 0.3)
        dog.arm(cut_later[0], 0.6)  # after the thread's next wake-up: not told, still cut
        dog.disarm(kept[0])  # the call ended in time
        assert _closed_by_peer(cut_first[1], within=3.0) is not None
        assert _closed_by_peer(cut_later[1], within=3.0) is not None
        assert _closed_by_peer(kept[1], within=0.2) is None
        assert dog.cut == 2
    finally:
        for a, b in pairs:
            a.close()
            b.close()
