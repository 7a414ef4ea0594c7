"""A loopback relay between the proxy and gunicorn: what nginx sends the service, seen on the wire.

The test's nginx proxies to the tap, and the tap to gunicorn, one connection for one. A test reads each
request head exactly as nginx wrote it (X-Forwarded-For, X-Request-Id), has the tap hang up on a request
before gunicorn answers it (an upstream failure, which nginx logs), and sees when nginx stops taking a
response: a send that would block means that nginx is not reading from its upstream. The tap itself
holds nothing back: it reads gunicorn's next bytes only once nginx has taken the last ones.
"""
import select
import socket
import threading
from dataclasses import dataclass, field

HEAD_END = b"\r\n\r\n"


@dataclass(eq=False)
class Link:
    """One connection of nginx's: its request head, and the way of its response back to nginx."""

    head: bytes
    # Bytes of the response nginx has taken.
    forwarded: int = 0
    # Set while a piece of the response waits for nginx to take any of it.
    stalled: threading.Event = field(default_factory=threading.Event)


class UpstreamTap:
    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.links: list[Link] = []
        # A request whose head holds these bytes is hung up on before it reaches gunicorn.
        self.hang_up_on: bytes | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        # shutdown wakes the accept() blocked in the other thread; close alone would not.
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()

    def heads_with(self, marker: bytes) -> list[bytes]:
        return [link.head for link in self.links if marker in link.head]

    def _accept(self) -> None:
        while True:
            try:
                proxy, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(proxy,), daemon=True).start()

    def _serve(self, proxy: socket.socket) -> None:
        try:
            received = b""
            while HEAD_END not in received:
                data = proxy.recv(65536)
                if not data:
                    return
                received += data
            link = Link(head=received.partition(HEAD_END)[0])
            self.links.append(link)
            if self.hang_up_on is not None and self.hang_up_on in link.head:
                return
            service = socket.create_connection(self.target)
            try:
                service.sendall(received)
                # The rest of the body, if any (nginx sends it whole, having read it first).
                threading.Thread(target=_relay, args=(proxy, service), daemon=True).start()
                self._respond(service, proxy, link)
            finally:
                hang_up(service)
        except OSError:
            pass
        finally:
            hang_up(proxy)

    def _respond(self, service: socket.socket, proxy: socket.socket, link: Link) -> None:
        try:
            while data := service.recv(65536):
                rest = memoryview(data)
                while rest:
                    try:
                        sent = proxy.send(rest, socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        link.stalled.set()
                        select.select([], [proxy], [])
                        link.stalled.clear()
                        continue
                    rest = rest[sent:]
                    link.forwarded += sent
        except OSError:
            pass


def _relay(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass


def hang_up(sock: socket.socket) -> None:
    """Close the connection; shutdown first wakes a recv() blocked on it in another thread, close alone would not."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
