"""A local TCP proxy that can stall: the network between LeadBot and its database going silent.

Until `stall()` it forwards both ways; afterwards it keeps every connection open and accepts new
ones, but forwards nothing, the way a dropped NAT entry or a frozen middlebox behaves (no reset,
no error: the kernel still acknowledges what is sent to it).
"""

from __future__ import annotations

import selectors
import socket
import threading


class StallProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port = int(self._listener.getsockname()[1])
        self._stalled = threading.Event()
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, name="stall-proxy", daemon=True)

    def start(self) -> StallProxy:
        self._thread.start()
        return self

    def stall(self) -> None:
        self._stalled.set()

    def resume(self) -> None:
        self._stalled.clear()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for s in self._held:
            s.close()
        self._listener.close()

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ, None)
        peers: dict[socket.socket, socket.socket] = {}
        while not self._stop.is_set():
            for key, _ in sel.select(0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    client, _ = self._listener.accept()
                    self._held.append(client)
                    if self._stalled.is_set():
                        continue  # accepted, and then nothing: not even the server's greeting
                    server = socket.create_connection(self.upstream)
                    self._held.append(server)
                    peers[client], peers[server] = server, client
                    for s in (client, server):
                        s.setblocking(False)
                        sel.register(s, selectors.EVENT_READ, None)
                    continue
                if self._stalled.is_set():
                    continue  # leave the bytes unread: the sender's kernel keeps them
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                other = peers.get(sock)
                if not data or other is None:
                    for s in (sock, other):
                        if s is not None and s in peers:
                            sel.unregister(s)
                            peers.pop(s)
                            s.close()
                    continue
                other.setblocking(True)
                other.sendall(data)
                other.setblocking(False)
            if self._stalled.is_set():
                self._stop.wait(0.05)  # selecting would spin on the unread bytes
        sel.close()
