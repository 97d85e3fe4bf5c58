"""A TCP proxy that a test can cut and restore: a database outage without touching the database.

`TcpProxy(("127.0.0.1", 5432))` listens on a free port of 127.0.0.1 and forwards every
connection to the target. `cut()` resets every open connection and refuses new ones (accepted
and closed at once, as a server that went down), until `restore()`. `hold()` keeps every
connection open but forwards nothing either way (a server that hangs: a request sent now is
never answered), until `restore()`. The server itself stays real and untouched; only the road to
it goes away, as in a restart or a network fault.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
import time
from contextlib import suppress


class TcpProxy:
    def __init__(self, target: tuple[str, int], host: str = "127.0.0.1") -> None:
        self.target = target
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.2)
        self._open = True
        self._holding = False
        self._closed = False
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self.refused = 0  # connections turned away while cut
        self._thread = threading.Thread(target=self._accept_forever, daemon=True,
                                        name="tcp-proxy")

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def start(self) -> TcpProxy:
        self._thread.start()
        return self

    def cut(self) -> None:
        """Reset every forwarded connection and refuse new ones."""
        with self._lock:
            self._open = False
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            _reset(*pair)

    def hold(self) -> None:
        """Keep connections open but forward nothing, either way."""
        with self._lock:
            self._holding = True

    def restore(self) -> None:
        with self._lock:
            self._open = True
            self._holding = False

    def close(self) -> None:
        self.cut()
        self._closed = True
        self._thread.join(5)
        self._listener.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept_forever(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            with self._lock:
                is_open = self._open
            if not is_open:
                self.refused += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            pair = (client, upstream)
            with self._lock:
                self._pairs.add(pair)
            threading.Thread(target=self._pump, args=(pair,), daemon=True,
                             name="tcp-proxy-pump").start()

    def _pump(self, pair: tuple[socket.socket, socket.socket]) -> None:
        client, upstream = pair
        peers = {client: upstream, upstream: client}
        with selectors.DefaultSelector() as selector:
            for sock in peers:  # blocking sockets: select says when recv will not block
                selector.register(sock, selectors.EVENT_READ)
            try:
                while True:
                    with self._lock:
                        holding = self._holding
                    if holding:
                        time.sleep(0.05)
                        with self._lock:
                            if pair not in self._pairs:
                                return
                        continue
                    for key, _ in selector.select(timeout=0.5):
                        with self._lock:
                            if self._holding:
                                break  # the data waits in the socket until restore()
                        data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                        if not data:
                            return
                        peers[key.fileobj].sendall(data)  # type: ignore[index]
                    with self._lock:
                        if pair not in self._pairs:
                            return
            except (OSError, ValueError):
                return
            finally:
                with self._lock:
                    self._pairs.discard(pair)
                _reset(client, upstream)


def _reset(*sockets: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a crashed server or a broken network does."""
    for sock in sockets:
        with suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with suppress(OSError):
            sock.close()
