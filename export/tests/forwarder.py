"""A loopback TCP forwarder to the database that a test can pull out and plug back in (issue 6).

The application's connections go through it; the shared PostgreSQL server is never stopped.
Pulled, the port refuses new connections and every open one is cut, as when the server goes away.
"""
import socket
import threading


class DatabasePlug:
    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.port = 0
        self.links: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None

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
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=pump, args=(source, sink), daemon=True).start()


def pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
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
