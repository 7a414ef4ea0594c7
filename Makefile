# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
INSTALLED := $(VENV)/.installed
BENCH_INSTALLED := $(VENV)/.bench-installed
# e.g. make bench BENCH_ARGS="--slots 1000000 --skip-load"; DATABASE_URL picks PostgreSQL.
BENCH_ARGS ?=
# e.g. make bench IMPORT_BENCH_ARGS="--megabytes 5 --runs 1"
IMPORT_BENCH_ARGS ?=
# e.g. make bench FEED_BENCH_ARGS="--small"; the feeds' load run keeps its cache in BENCH_REDIS_URL's database.
FEED_BENCH_ARGS ?=

# e.g. make fuzz FUZZ_ARGS="--max-time 120 --seed 1"
FUZZ_ARGS ?=

.PHONY: run test redis lint bench fuzz clean

# One virtual environment with runtime and development packages, rebuilt when a requirements file changes.
$(INSTALLED): requirements/base.txt requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	touch $@

run: $(INSTALLED)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py loaddata fixtures/demo.json
	@echo "Demo data loaded. Export the demo user's calendar with:"
	@$(BIN)/python manage.py demo_curl --base-url http://127.0.0.1:$(PORT)
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# The admin's browser tests drive Debian's chromium (Playwright never downloads a browser here).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@echo "The browser tests need Debian's chromium: installing it with apt-get (as root)."
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

# The proxy's tests run Debian's nginx in front of gunicorn over TLS, with a certificate openssl makes
# (timeslot/tests/test_proxy.py).
NGINX := /usr/sbin/nginx
OPENSSL := /usr/bin/openssl
$(NGINX) $(OPENSSL):
	@echo "The proxy's tests need Debian's nginx and openssl: installing them with apt-get (as root)."
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y nginx openssl

# The systemd unit's test verifies deploy/timeslot.service with systemd's own checker (timeslot/tests/test_systemd_unit.py).
SYSTEMD_ANALYZE := /usr/bin/systemd-analyze
$(SYSTEMD_ANALYZE):
	@echo "The unit's test needs systemd-analyze: installing Debian's systemd with apt-get (as root)."
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y systemd

# The pooling tests run Debian's PgBouncer in transaction mode between gunicorn and PostgreSQL
# (timeslot/tests/test_pgbouncer.py).
PGBOUNCER := /usr/sbin/pgbouncer
$(PGBOUNCER):
	@echo "The pooling tests need Debian's pgbouncer: installing it with apt-get (as root)."
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y pgbouncer

# The throttle tests, and the feeds' benchmark, also run on Redis at 127.0.0.1:6379 (export/tests/test_abuse.py): when nothing answers
# there, start Debian's redis-server, keeping nothing on disk (installing it with apt-get first, as root, if missing).
REDIS_ANSWERS := $(PYTHON) -c "import socket; socket.create_connection(('127.0.0.1', 6379), 1).close()" 2>/dev/null
redis:
	@$(REDIS_ANSWERS) || { \
	  echo "The throttle tests need Redis on 127.0.0.1:6379: starting Debian's redis-server."; \
	  command -v redis-server >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server; }; \
	  $(REDIS_ANSWERS) || redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --appendonly no; \
	  for i in $$(seq 30); do $(REDIS_ANSWERS) && break; sleep 1; done; \
	  $(REDIS_ANSWERS); }

# SQLite unless DATABASE_URL points elsewhere (PostgreSQL: see README).
test: $(INSTALLED) $(CHROMIUM) $(NGINX) $(OPENSSL) $(SYSTEMD_ANALYZE) $(PGBOUNCER) redis
	$(BIN)/pytest

$(BENCH_INSTALLED): $(INSTALLED) requirements/bench.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/bench.txt
	touch $@

# The export benchmark (docs/performance.md); its load run needs Debian's wrk. Then the import's, and the feeds'
# load run (wrk again, and Redis: a database of its own, redis://127.0.0.1:6379/8 unless BENCH_REDIS_URL says).
bench: $(BENCH_INSTALLED) redis
	$(BIN)/python bench/export.py $(BENCH_ARGS)
	$(BIN)/python bench/imports.py $(IMPORT_BENCH_ARGS)
	$(BIN)/python bench/feeds.py $(FEED_BENCH_ARGS)

# Schemathesis against the OpenAPI schema, with a valid token, a wrong one and none (fuzz/run.py).
fuzz: $(INSTALLED)
	$(BIN)/python fuzz/run.py $(FUZZ_ARGS)

lint: $(INSTALLED)
	$(BIN)/flake8
	$(BIN)/isort --check-only --diff .

clean:
	rm -rf $(VENV) timeslot.sqlite3
