"""A TCP proxy for fault tests: put it between a process and a service, then cut the
process's connections, refuse new ones for a while, and let them through again.

    with FaultProxy("127.0.0.1", 5432) as proxy:    # listens on 127.0.0.1:proxy.port
        ...                                         # point the process at proxy.port
        proxy.refuse()    # the service looks stopped: open connections close, new ones
        time.sleep(30)    # are refused (ECONNREFUSED), as a server that is down does
        proxy.restore()   # connections are accepted and forwarded again

Standard library only; one accept thread, and two forwarding threads per connection
(one per direction). Every method may be called from any thread.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

_CHUNK = 64 * 1024  # bytes read per recv
_ACCEPT_POLL_SECONDS = 0.05  # how soon the accept thread sees refuse() and stop()
_CONNECT_TIMEOUT_SECONDS = 5.0  # to the target, per accepted connection
_LOWEST_PORT = 10_000


def unused_port(host: str = "127.0.0.1") -> int:
    """A port on `host` that nothing listens on now, chosen BELOW the kernel's ephemeral
    range (/proc/sys/net/ipv4/ip_local_port_range), so that no outgoing connection and no
    `bind(port 0)` takes it while its listener is closed: a proxy that refuses for 30 s,
    or a broker that restarts, gets the same port back."""
    low = _ephemeral_range()[0]
    candidates = list(range(_LOWEST_PORT, low))
    random.shuffle(candidates)
    for port in candidates[:200]:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no unused port on {host} between {_LOWEST_PORT} and {low}")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32_768, 60_999  # Linux's default


class _Connection:
    """One client connection and its connection to the target. Each forwarding thread
    half-closes the other side at end of stream; the last one to end closes both sockets
    (sockets are closed only by their own threads, never under a blocked recv)."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self._lock = threading.Lock()
        self._open_directions = 2
        self.closed = threading.Event()

    def start(self, on_closed: Callable[[_Connection], None]) -> None:
        for source, target in ((self.client, self.upstream), (self.upstream, self.client)):
            threading.Thread(
                target=self._forward, args=(source, target, on_closed), daemon=True
            ).start()

    def _forward(
        self,
        source: socket.socket,
        target: socket.socket,
        on_closed: Callable[[_Connection], None],
    ) -> None:
        try:
            while data := source.recv(_CHUNK):
                target.sendall(data)
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)  # pass the end of stream on
        except OSError:
            self.cut()  # a reset on one side resets the other
        with self._lock:
            self._open_directions -= 1
            last = self._open_directions == 0
        if last:
            self.client.close()
            self.upstream.close()
            self.closed.set()
            on_closed(self)

    def cut(self) -> None:
        """Both sockets shut down in both directions: each peer reads end of stream at
        once (a FIN, as when the server process exits), and the forwarding threads end."""
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class FaultProxy:
    """Forwards TCP connections from `host:port` (default: 127.0.0.1, a port from
    `unused_port`) to `target_host:target_port`, until told to fail.

    States: forwarding (after `start` or `restore`) and refusing (after `refuse`, and
    before `start`). Counters, for a test to check the proxy was really in the path:
    `accepted` (connections accepted and forwarded), `cut_connections` (closed by `cut` or
    `refuse`), `open_connections` (forwarded now)."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        name: str = "proxy",
    ) -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = port if port is not None else unused_port(host)
        self.name = name
        self.accepted = 0
        self.cut_connections = 0
        self._lock = threading.Lock()
        self._connections: set[_Connection] = set()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._stop_accepting = threading.Event()

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Listen and forward; returns self. Raises OSError if the port cannot be bound."""
        self.restore()
        return self

    def stop(self) -> None:
        """Stop listening and close every connection; the proxy can `restore` again."""
        self.refuse()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def address(self) -> str:
        """`host:port` to give a client instead of the target's."""
        return f"{self.host}:{self.port}"

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    @property
    def refusing(self) -> bool:
        return self._listener is None

    # --- faults ----------------------------------------------------------------------

    def cut(self, wait_seconds: float = 5.0) -> int:
        """Close every open connection in both directions at once, as a server restart
        does to its clients; new connections are still accepted (unless refusing).
        Returns how many were cut, once their forwarding threads have ended (up to
        `wait_seconds`)."""
        with self._lock:
            connections = list(self._connections)
            self.cut_connections += len(connections)
        for connection in connections:
            connection.cut()
        for connection in connections:
            connection.closed.wait(wait_seconds)
        return len(connections)

    def refuse(self) -> int:
        """Stop listening, so a new connection is refused (ECONNREFUSED, as from a host
        whose server is down), and cut every open one. Returns how many were cut. Idempotent."""
        with self._lock:
            listener, self._listener = self._listener, None
            accepting, self._accepting = self._accepting, None
            self._stop_accepting.set()  # under the lock: see _accept
        if accepting is not None:
            accepting.join()
        if listener is not None:
            listener.close()  # connections queued in its backlog are reset
        return self.cut()

    def restore(self) -> None:
        """Listen on the same port again and forward new connections. Idempotent."""
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                listener.bind((self.host, self.port))
            except OSError:
                listener.close()
                raise
            listener.listen(128)
            listener.settimeout(_ACCEPT_POLL_SECONDS)
            self._stop_accepting = threading.Event()
            self._listener = listener
            self._accepting = threading.Thread(
                target=self._accept,
                args=(listener, self._stop_accepting),
                name=f"{self.name}-accept",
                daemon=True,
            )
            self._accepting.start()

    # --- forwarding ------------------------------------------------------------------

    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.setblocking(True)
            try:
                upstream = socket.create_connection(self.target, _CONNECT_TIMEOUT_SECONDS)
            except OSError:
                client.close()  # the target itself refuses: so does the proxy
                continue
            upstream.settimeout(None)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(client, upstream)
            with self._lock:  # either refuse() cuts it, or it is closed here, unused
                refused = stop.is_set()
                if not refused:
                    self._connections.add(connection)
                    self.accepted += 1
            if refused:
                client.close()
                upstream.close()
                return
            connection.start(self._forget)

    def _forget(self, connection: _Connection) -> None:
        with self._lock:
            self._connections.discard(connection)
