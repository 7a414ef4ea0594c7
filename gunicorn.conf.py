"""gunicorn's settings in production: `gunicorn -c gunicorn.conf.py timeslot.wsgi`, from the project's
directory (README, Production). An option on the command line overrides the one here.
https://gunicorn.org/reference/settings/
"""
from gunicorn.glogging import Logger

from timeslot.logs import RedactSecrets

bind = "127.0.0.1:8000"
# Exports stream: threads, so that a long download holds one thread, not a whole worker.
workers = 4
worker_class = "gthread"
threads = 4

# One line a request on stdout: the decoded path (%(U)s, feed secrets masked), never the raw request
# line (%(r)s) with its query string, nor a header that carries a credential.
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'


class RedactingLogger(Logger):
    """gunicorn's logger, each of its handlers (error log, access log, syslog) passing every line
    through the service's redaction of feed secrets and API tokens (timeslot/logs.py)."""

    def setup(self, cfg):
        # Also run on a reload (SIGHUP), which makes the handlers anew.
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(known, RedactSecrets) for known in handler.filters):
                    handler.addFilter(RedactSecrets())


# (With a logger of its own, gunicorn no longer switches to its statsd logger when --statsd-host is given.)
logger_class = RedactingLogger
