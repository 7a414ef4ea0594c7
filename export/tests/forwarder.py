"""A loopback TCP forwarder to the database that a test can pull out and plug back in.

The application's connections go through it; the shared PostgreSQL server is never stopped.
Pulled, the port refuses new connections and every open one is cut, as when the server goes away.
It can also hold one query on its way to the database, so that a test knows the application is
waiting on the database in the middle of a stream, however large the socket buffers are.
"""
import socket
import threading

# Longest a held query waits for the test to release it.
HOLD_AT_MOST = 60.0


class DatabasePlug:
    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.port = 0
        self.links: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None
        self.marker: bytes | None = None
        self.seen = 0
        self.occurrence = 0
        self.held = threading.Event()
        self.released = threading.Event()

    def plug(self) -> None:
        """Listen (on the same port again after a pull) and forward every connection to the target."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def pull(self) -> None:
        """Refuse new connections and cut the open ones."""
        listener, self.listener = self.listener, None
        if listener is not None:
            # shutdown wakes the accept() blocked in the other thread; close alone would not.
            listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self.lock:
            links, self.links = self.links, set()
        for link in links:
            cut(link)

    def hold(self, marker: bytes, occurrence: int) -> None:
        """Hold the occurrence-th query that contains marker until release(); `held` is set when it is."""
        self.marker, self.occurrence, self.seen = marker, occurrence, 0
        self.held.clear()
        self.released.clear()

    def release(self) -> None:
        self.marker = None
        self.released.set()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                cut(client)
                continue
            with self.lock:
                self.links.update((client, server))
            threading.Thread(target=self._relay, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._relay, args=(server, client, False), daemon=True).start()

    def _relay(self, source: socket.socket, sink: socket.socket, to_database: bool) -> None:
        try:
            while data := source.recv(65536):
                if to_database and self.marker is not None and self.marker in data:
                    self.seen += data.count(self.marker)
                    if self.seen >= self.occurrence:
                        self.held.set()
                        self.released.wait(HOLD_AT_MOST)
                sink.sendall(data)
        except OSError:
            pass
        cut(sink)


def cut(link: socket.socket) -> None:
    try:
        link.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    link.close()
