"""deploy/nginx.conf as shipped, run by Debian's nginx on loopback in front of app servers, and an HTTPS client
of it (timeslot/tests/test_proxy.py, test_several_servers.py).

The site file is the shipped one with only its ports and paths replaced: listening on free loopback ports, a
self-signed certificate made here with openssl, its logs in the test's folder, and its upstream the test's
servers, one `server` line each.
"""
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench import served

NGINX = Path("/usr/sbin/nginx")
SITE = served.ROOT / "deploy" / "nginx.conf"
SERVER_NAME = "export.example.org"
# Bounded waits for what nginx does; never an assertion on how long it took.
PATIENCE = 60


def shipped(directive: str) -> str:
    """The value of the first occurrence of a directive in the shipped site file."""
    return re.search(rf"^\s*{directive}\s+([^;]+);", SITE.read_text(), re.MULTILINE).group(1)


@dataclass
class Nginx:
    https_port: int
    http_port: int
    tls: ssl.SSLContext
    logs: Path


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    certificate, key = folder / "certificate.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(certificate), "-days", "2", "-subj", f"/CN={SERVER_NAME}",
         "-addext", f"subjectAltName=DNS:{SERVER_NAME}"],
        check=True, capture_output=True,
    )
    return certificate, key


def rendered_site(folder: Path, *, https: int, http: int, certificate: Path, key: Path, upstreams: list[int]) -> str:
    """The shipped site file, its ports and paths (only they) replaced by the test's."""
    site = SITE.read_text()
    replacements = {
        "listen 443 ssl;": f"listen 127.0.0.1:{https} ssl;",
        "listen [::]:443 ssl;": f"listen 127.0.0.1:{served.free_port()} ssl;",
        "listen 80;": f"listen 127.0.0.1:{http};",
        "listen [::]:80;": f"listen 127.0.0.1:{served.free_port()};",
        f"/etc/letsencrypt/live/{SERVER_NAME}/fullchain.pem": str(certificate),
        f"/etc/letsencrypt/live/{SERVER_NAME}/privkey.pem": str(key),
        "/var/log/nginx/": f"{folder}/logs/",
        "/srv/timeslot/staticfiles/": f"{folder}/staticfiles/",
    }
    for shipped_text, test_text in replacements.items():
        assert shipped_text in site, f"{SITE} no longer holds {shipped_text!r}: the test's replacements need it"
        site = site.replace(shipped_text, test_text)
    # The upstream's server line, once a port, its parameters kept.
    server = re.compile(r"^([ \t]*)server 127\.0\.0\.1:8000\b([^;]*);$", re.MULTILINE)
    assert server.search(site), f"{SITE} no longer holds its upstream's server 127.0.0.1:8000: the test needs it"
    return server.sub(
        lambda line: "\n".join(f"{line[1]}server 127.0.0.1:{port}{line[2]};" for port in upstreams), site, count=1)


# The main configuration around the site, as Debian's nginx.conf includes it: in the http block. The site sets
# everything it relies on, so nothing else of Debian's is needed; nginx's temporary files go in the test's folder.
MAIN = """{user}
worker_processes 1;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {folder}/temp/body;
    proxy_temp_path {folder}/temp/proxy;
    fastcgi_temp_path {folder}/temp/fastcgi;
    uwsgi_temp_path {folder}/temp/uwsgi;
    scgi_temp_path {folder}/temp/scgi;
    access_log {folder}/logs/outside-the-site.log;
    include {folder}/timeslot.conf;
}}
"""


@contextlib.contextmanager
def running(folder: Path, upstreams: list[int]):
    """Debian's nginx running the shipped site in front of these loopback ports until the block ends, in the
    folder (its configuration, certificate, logs and temporary files)."""
    if not NGINX.exists():
        pytest.fail(f"{NGINX} is missing: apt-get install -y nginx (make test installs it).")
    for name in ("logs", "temp", "staticfiles"):
        (folder / name).mkdir(parents=True)
    certificate, key = self_signed_certificate(folder)
    https_port, http_port = served.free_port(), served.free_port()
    (folder / "timeslot.conf").write_text(rendered_site(
        folder, https=https_port, http=http_port, certificate=certificate, key=key, upstreams=upstreams))
    # As root, nginx's workers would run as nobody, who may not enter the test's folders.
    (folder / "nginx.conf").write_text(MAIN.format(user="user root;" if os.geteuid() == 0 else "", folder=folder))
    command = [
        str(NGINX), "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", str(folder / "logs" / "error.log"),
        "-g", f"daemon off; pid {folder}/nginx.pid; error_log {folder}/logs/error.log;",
    ]
    output = folder / "nginx.out"
    with open(output, "wb") as written:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=written, stderr=written)
    try:
        served.wait_listening(process, [https_port, http_port], "nginx", log=output, seconds=PATIENCE)
        tls = ssl.create_default_context(cafile=str(certificate))
        yield Nginx(https_port=https_port, http_port=http_port, tls=tls, logs=folder / "logs")
    finally:
        # SIGTERM is nginx's fast shutdown.
        served.stopped(process, signal.SIGTERM)


# HTTPS as a client of export.example.org ------------------------------------------------------------------


class HTTPS(http.client.HTTPSConnection):
    """A connection to the test's nginx as to export.example.org (the name in SNI and Host, the certificate checked
    against it), from a loopback address of the test's choosing."""

    def __init__(self, proxy: Nginx, source: str = "127.0.0.1", timeout: float = PATIENCE):
        super().__init__(SERVER_NAME, proxy.https_port, timeout=timeout, source_address=(source, 0), context=proxy.tls)

    def connect(self):
        connection = socket.create_connection(("127.0.0.1", self.port), self.timeout, self.source_address)
        self.sock = self._context.wrap_socket(connection, server_hostname=self.host)


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


def ask(proxy: Nginx, method: str, path: str, headers: dict | None = None, body: bytes | None = None, *,
        source: str = "127.0.0.1", timeout: float = PATIENCE) -> Answer:
    connection = HTTPS(proxy, source, timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()
