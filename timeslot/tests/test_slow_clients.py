"""What gunicorn.conf.py bounds of slow clients, over real sockets against real gunicorn.

gunicorn 27's gthread worker gives a new connection a thread for 5 s to send its first byte, then parks
it without one and closes it `keepalive` seconds later; a kept-alive connection waits between requests
without a thread for as long. A client that has begun its head or its body and then stalls or trickles
holds its thread until it closes the connection (gunicorn reads them with blocking reads and no
timeout): only the buffering proxy in front bounds it (README, Production).
"""
import os
import runpy
import socket

import pytest

from bench import served

# Bounded waits for what the server does; never an assertion on how long it took.
PATIENCE = 60
CONFIG = runpy.run_path(str(served.CONFIG))
# A request the service answers without its database: no token, a 401.
REQUEST = b"POST /v1/export/google HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    """gunicorn with the production settings but one worker (its threads are what slow clients take), on an
    empty database that no refusal reads."""
    environment = {
        **os.environ,
        **served.production_environment(f"sqlite:///{tmp_path_factory.mktemp('slow')}/empty.sqlite3"),
    }
    environment.pop("REDIS_URL", None)
    with served.gunicorn(environment, ["--workers", "1"]) as server:
        yield ("127.0.0.1", server.port)


def connect(address) -> socket.socket:
    return socket.create_connection(address, timeout=PATIENCE)


def answer(sock: socket.socket) -> int:
    """The status of the next response on the connection, read to the end of its body."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection without an answer"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
    length = int({name.lower(): value for name, value in fields.items()}[b"content-length"])
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split(b" ")[1])


def closed_by_the_server(sock: socket.socket) -> bool:
    """Whether the server closes the connection (within PATIENCE) without sending anything."""
    try:
        data = sock.recv(1)
    except ConnectionResetError:
        data = b""
    finally:
        sock.close()
    return data == b""


def test_the_settings_are_the_readmes_gthread_workers_with_a_keepalive_bound():
    assert {name: CONFIG[name] for name in ("workers", "worker_class", "threads", "keepalive")} == {
        "workers": 4, "worker_class": "gthread", "threads": 4, "keepalive": 2,
    }


@pytest.mark.parametrize("head, status", [
    (b"POST /v1/export/google?" + b"a" * 4094 + b" HTTP/1.1\r\n", 414),
    (b"POST /v1/export/google HTTP/1.1\r\n" + b"X-A: a\r\n" * 101, 431),
    (b"POST /v1/export/google HTTP/1.1\r\nX-A: " + b"a" * 8190 + b"\r\n", 431),
])
def test_a_request_head_over_the_limits_is_refused_before_the_service_reads_it(gunicorn, head, status):
    with connect(gunicorn) as client:
        client.sendall(head + b"Host: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
        assert answer(client) == status


def test_connections_that_send_nothing_are_closed_and_a_request_after_them_is_answered(gunicorn):
    # Twice as many as the worker has threads.
    silent = [connect(gunicorn) for _ in range(2 * CONFIG["threads"])]

    with connect(gunicorn) as client:
        client.sendall(REQUEST)
        assert answer(client) == 401

    assert all(closed_by_the_server(sock) for sock in silent)


def test_kept_alive_connections_left_idle_are_closed_and_hold_no_thread(gunicorn):
    idle = []
    for _ in range(2 * CONFIG["threads"]):
        sock = connect(gunicorn)
        sock.sendall(REQUEST)
        assert answer(sock) == 401
        idle.append(sock)

    with connect(gunicorn) as client:
        client.sendall(REQUEST)
        assert answer(client) == 401

    assert all(closed_by_the_server(sock) for sock in idle)
