"""gunicorn's settings in production: `gunicorn -c gunicorn.conf.py timeslot.wsgi`, from the project's
directory (README, Production). An option on the command line overrides the one here.
https://docs.gunicorn.org/en/stable/settings.html

What gunicorn 27's gthread worker bounds of a slow client, and what only the buffering proxy in front
does (README, Production):
- A connection that sends nothing holds a thread for 5 s at most (gunicorn's own, not a setting), then
  waits without one for `keepalive` seconds and is closed; so does a kept-alive connection between requests.
- A request whose head or body has begun holds its thread until it is whole or the client closes the
  connection (one byte, then silence, is enough): the worker reads them with blocking reads and no
  timeout (`timeout` is not one: it restarts a worker whose main loop stalls, and a busy thread never
  stalls it). The limit_request_* settings bound its bytes only.
"""
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from gunicorn.glogging import Logger
from prometheus_client import multiprocess

from timeslot.log_lines import JSONLines, log_format
from timeslot.logs import RedactSecrets
from timeslot.request_ids import RequestIdFilter

bind = "127.0.0.1:8000"
# Exports stream: threads, so that a long download holds one thread, not a whole worker.
workers = 4
worker_class = "gthread"
threads = 4

# Seconds an idle connection is kept without a thread: between two requests, or after sending nothing
# in its first 5 s. The proxy in front opens a connection a request, so this only bounds idle clients.
keepalive = 2
# Connections one worker holds, busy or idle; past it, it accepts no more until one closes, and new
# connections wait in the listen backlog (gunicorn's default, said here: below the 1,024 file descriptors
# a process has by default).
worker_connections = 1000
# A worker whose main loop is silent this long is killed and replaced; a stopping worker's requests
# get this long to finish.
timeout = 30
graceful_timeout = 30
# The most bytes of a request head (gunicorn's defaults, said here): the request line, the number of
# header fields and the size of one.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# One line a request on stdout: the decoded path (%(U)s, feed secrets masked), never the raw request
# line (%(r)s) with its query string, nor a header that carries a credential; last, the request's id as
# its answer said it (X-Request-Id, timeslot/request_ids.py; "-" for a request gunicorn refused itself).
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s" %({x-request-id}o)s'
# LOG_FORMAT=json: gunicorn's lines are JSON objects too, as the service's (timeslot/log_lines.py).
LOG_FORMAT = log_format()


class AnsweredRequestId(logging.Filter):
    """An access line's request id: the X-Request-Id its answer carried, from the line's atoms (gunicorn
    writes it after the service has returned the answer)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, Mapping) and record.args.get("{x-request-id}o"):
            record.request_id = record.args["{x-request-id}o"]
        return True


class RedactingLogger(Logger):
    """gunicorn's logger, each of its handlers (error log, access log, syslog) passing every line
    through the service's redaction of feed secrets and API tokens (timeslot/logs.py), each line with the
    id of its request, and JSON lines if LOG_FORMAT says so."""

    def setup(self, cfg):
        # Also run on a reload (SIGHUP), which makes the handlers anew.
        super().setup(cfg)
        for log, request_id in ((self.error_log, RequestIdFilter), (self.access_log, AnsweredRequestId)):
            for handler in log.handlers:
                if not any(isinstance(known, RedactSecrets) for known in handler.filters):
                    # In this order: the redaction leaves the record no atoms to read the id from.
                    handler.addFilter(request_id())
                    handler.addFilter(RedactSecrets())
                if LOG_FORMAT == "json":
                    handler.setFormatter(JSONLines())


# (With a logger of its own, gunicorn no longer switches to its statsd logger when --statsd-host is given.)
logger_class = RedactingLogger


# Metrics (GET /metrics): with PROMETHEUS_MULTIPROC_DIR set in gunicorn's environment, each worker writes its
# counts to files there and a scrape adds up all of them, a worker's that has died too (prometheus-client's
# multiprocess mode, https://prometheus.github.io/client_python/multiprocess/). The folder is gunicorn's own:
# one a server, never shared with another.


def on_starting(server):
    """The master, before it forks its workers: a fresh folder, the last run's counts gone (counters begin at
    0 with every start, which Prometheus reads as a restart)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        # Only prometheus-client's own files.
        for stale in Path(folder).glob("*.db"):
            stale.unlink()


def child_exit(server, worker):
    """A worker gone: its counts stay, as counts of the past; what it held live (a gauge's) goes with it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
