"""The requests Schemathesis does not make, over real HTTP: each must be a JSON 4xx, and cost the server's log at
most one warning line and never a traceback. fuzz/run.py sends them after its runs; so does
export/tests/test_hostile.py, to a gunicorn of its own.

Bodies nested 100,000 deep or with a 5,000-digit integer, on every endpoint that reads JSON and in an imported
backup; more form fields, multipart parts or files than Django reads; a Host the service does not answer to;
OPTIONS and every other method on the schema and the docs, with a token and without; an `Accept` or `format`
they cannot serve; paths no route takes.
"""
import http.client
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

EXPORTS = ["/v1/export/google", "/v1/export/ical", "/v1/export/outlook", "/v1/export/timeslot"]
JSON_ENDPOINTS = [*EXPORTS, "/v1/feeds"]
DOCS = ["/v1/schema/", "/v1/docs/"]
BOUNDARY = "timeslot-hostile-boundary"
DEEP = "[" * 100_000
HUGE_INTEGER = "7" * 5_000


@dataclass
class Hostile:
    name: str
    method: str
    path: str
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Whether the request carries the run's Authorization header.
    token: bool = True


def multipart(*parts: tuple[str, str | None, bytes]) -> tuple[dict[str, str], bytes]:
    """A multipart/form-data body of (field name, file name or None, content) parts, and its Content-Type."""
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n"
    return {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, body + f"--{BOUNDARY}--\r\n".encode()


def backup(version: str = "1", slots: str = "[]") -> bytes:
    return f'{{"format": "timeslot-export", "version": {version}, "slots": {slots}}}'.encode()


def hostile_requests() -> list[Hostile]:
    as_json = {"Content-Type": "application/json"}
    requests = []
    for path in JSON_ENDPOINTS:
        requests += [
            Hostile("a body of 100,000 [", "POST", path, 400, DEEP.encode(), as_json),
            Hostile("a body nested 100,000 deep", "POST", path, 400, (DEEP + "]" * 100_000).encode(), as_json),
            Hostile("a 5,000-digit integer", "POST", path, 400, f'{{"group": {HUGE_INTEGER}}}'.encode(), as_json),
        ]
    for name, content in [("a backup nested 100,000 deep", backup(slots=DEEP + "]" * 100_000)),
                          ("a backup with a 5,000-digit version", backup(version=HUGE_INTEGER))]:
        headers, body = multipart(("file", "backup.json", content))
        requests.append(Hostile(name, "POST", "/v1/import", 422, body, headers))
    fields = "&".join(f"field{number}=1" for number in range(1_100)).encode()
    requests.append(Hostile("1,100 form fields", "POST", EXPORTS[0], 400, fields,
                            {"Content-Type": "application/x-www-form-urlencoded"}))
    headers, body = multipart(*((f"field{number}", None, b"1") for number in range(1_500)))
    requests += [Hostile("1,500 multipart parts", "POST", path, 400, body, headers)
                 for path in (EXPORTS[0], "/v1/import")]
    headers, body = multipart(*((f"file{number}", f"{number}.ics", b"BEGIN:VCALENDAR") for number in range(150)))
    requests.append(Hostile("150 files", "POST", "/v1/import", 400, body, headers))
    for path in ["/v1/feeds", "/v1/docs/", "/v1/nothing"]:
        requests.append(Hostile("a Host the service does not answer to", "GET", path, 400,
                                headers={"Host": "evil.example"}))
    for path in DOCS:
        for method in ["OPTIONS", "POST", "PUT", "PATCH", "DELETE"]:
            requests += [Hostile(f"{method} with a token", method, path, 405),
                         Hostile(f"{method} without a token", method, path, 405, token=False)]
        requests += [Hostile("an Accept it cannot serve", "GET", path, 406, headers={"Accept": "image/png"}),
                     Hostile("a format it does not have", "GET", f"{path}?format=csv", 404)]
    for method, path in [("GET", "/v1/nothing"), ("OPTIONS", "/v1/"), ("DELETE", "/v1/feeds/not-a-uuid"),
                         ("GET", "/v1/schema/nothing")]:
        requests.append(Hostile("a path no route takes", method, path, 404, token=False))
    return requests


def send(base_url: str, request: Hostile, authorization: str) -> tuple[int, str, bytes]:
    """The status, Content-Type and body of the answer."""
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    headers = dict(request.headers)
    if request.token and authorization:
        headers["Authorization"] = authorization
    try:
        connection.request(request.method, request.path, body=request.body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


# A line of gunicorn's access log: address, [time], "request".
ACCESS_LINE = re.compile(r'\S+ \[[^]]+\] "')
# gunicorn's own news, [time] [pid] [INFO]: a worker booting as the first request comes, say; no request's.
GUNICORN_NEWS = re.compile(r"\[[^]]+\] \[\d+\] \[INFO\] ")


def failures(base_url: str, authorization: str, log: Path | None) -> list[str]:
    """What went wrong with each hostile request: not its status, not JSON, or more than a warning line in the log."""
    found = []
    for request in hostile_requests():
        logged = log.stat().st_size if log else 0
        status, content_type, body = send(base_url, request, authorization)
        label = f"{request.method} {request.path} ({request.name})"
        if status != request.status or content_type != "application/json":
            found.append(f"{label}: {status} {content_type}, expected {request.status} application/json")
        else:
            try:
                json.loads(body)
            except ValueError:
                found.append(f"{label}: the body is not JSON")
        # Django logs a response before the server sends it: its lines are in the log by now. gunicorn's
        # access log (gunicorn.conf.py) has a line for every request, good or bad: it is not counted, nor
        # are gunicorn's own lines of its workers.
        lines = log.read_bytes()[logged:].decode(errors="replace").splitlines() if log else []
        lines = [line for line in lines if not (ACCESS_LINE.match(line) or GUNICORN_NEWS.match(line))]
        if len(lines) > 1 or any(" WARNING " not in line for line in lines):
            found.append(f"{label}: logged {lines!r}, expected at most one warning line")
    return found
