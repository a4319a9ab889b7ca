# Jichitai Cloud — the two commands in the README are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/jichitai
SCALE ?= 0.1
HOST ?= 127.0.0.1:8000

.PHONY: demo test env lock fonts bench bench-search bench-changes bench-load bench-moji bench-export bench-import bench-certificates env-ha bench-backup bench-failover bench-feed bench-offline bench-match moji-tables clean screenshots certificate-samples

# Setup that cannot rot: the venv's bundled pip (whatever its age) installs only a hash-pinned current pip from
# requirements-bootstrap.lock; that pip installs exactly the lock (--no-deps: nothing is resolved against newer
# releases, wheels only, every extra's packages are in the lock); `pip check` and scripts/check_lock.py then fail
# if the installed set is inconsistent or differs from the lock in any name or version.
PIP := $(PY) -m pip --disable-pip-version-check
$(STAMP): requirements.lock requirements-bootstrap.lock pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --require-hashes --no-deps -r requirements-bootstrap.lock
	$(PIP) install -q --require-hashes --no-deps --only-binary :all: -r requirements.lock
	$(PIP) uninstall -q -y setuptools
	$(PIP) check
	$(PY) scripts/check_lock.py
	$(PY) scripts/link_src.py
	touch $(STAMP)

# Regenerate the locks after changing pyproject.toml (needs uv: pip install uv, outside the project's venv).
lock:
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock
	uv pip compile requirements-bootstrap.in --generate-hashes --python-version 3.11 -o requirements-bootstrap.lock

env: $(STAMP)

# Japanese fonts (IPAmj明朝 for names with IVS, IPAex for everything else) and the libraries WeasyPrint renders
# certificates with (Pango, HarfBuzz's subsetter), from Debian, when missing and possible.
PDF_PACKAGES := fonts-ipamj-mincho fonts-ipaexfont libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils
fonts:
	@if [ -f /usr/share/fonts/truetype/ipamj/ipamjm.ttf ] && [ -f /usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf ] \
	   && ldconfig -p 2>/dev/null | grep -q libharfbuzz-subset.so.0 && ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0.so.0 && command -v pdftotext >/dev/null; then \
	  echo "fonts: IPAmj明朝, IPAex, Pango, HarfBuzz-subset and poppler-utils present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get install -y -qq $(PDF_PACKAGES) >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $(PDF_PACKAGES) >/dev/null 2>&1)) \
	   && echo "fonts: installed $(PDF_PACKAGES)" \
	   || echo "fonts: could not install; names fall back to the browser's fonts and certificates cannot be made"; \
	else \
	  echo "fonts: not installed (need root and apt-get: sudo apt-get install $(PDF_PACKAGES))"; \
	fi

# The failover drill and point-in-time recovery (continuity app) need Patroni, etcd and pgBackRest from Debian:
# installed when missing and possible, like the fonts (the drill's test fails in CI without them).
HA_PACKAGES := patroni etcd-server etcd-client pgbackrest
env-ha:
	@if command -v patroni >/dev/null && command -v etcd >/dev/null && command -v pgbackrest >/dev/null; then \
	  echo "env-ha: patroni, etcd and pgbackrest present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(HA_PACKAGES) >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(HA_PACKAGES) >/dev/null 2>&1)) \
	   && echo "env-ha: installed $(HA_PACKAGES)" \
	   || echo "env-ha: could not install $(HA_PACKAGES); the failover drill is skipped (fails in CI)"; \
	else \
	  echo "env-ha: not installed (need root and apt-get: sudo apt-get install $(HA_PACKAGES))"; \
	fi

demo: env fonts
	$(VENV)/bin/jichitai migrate --noinput -v 0
	$(VENV)/bin/jichitai seed_demo --scale $(SCALE) --with-backup
	$(VENV)/bin/jichitai runserver --noreload --insecure $(HOST)

test: env fonts env-ha
	bash scripts/run-tests.sh

bench: bench-search bench-changes bench-load bench-moji bench-export bench-import bench-certificates bench-feed bench-offline bench-match bench-backup bench-failover

bench-search: env
	$(PY) benchmarks/bench_search.py

bench-changes: env
	$(PY) benchmarks/bench_changes.py

bench-load: env
	$(PY) benchmarks/bench_load.py

bench-moji: env
	$(PY) benchmarks/bench_moji.py

bench-export: env
	$(PY) benchmarks/bench_export.py

bench-import: env
	$(PY) benchmarks/bench_import.py

bench-certificates: env fonts
	$(PY) benchmarks/bench_certificates.py

bench-offline: env
	$(PY) benchmarks/bench_offline.py

bench-feed: env
	$(PY) benchmarks/bench_feed.py

# The matching benchmark runs splink beside our matcher. splink and its dependencies are benchmark-only: they go
# into a separate venv (.venv-bench = requirements.lock + requirements-bench.lock, both hash-pinned, no resolution),
# never into .venv, whose lock check stays exact. Regenerate the bench lock after a change of requirements.lock:
#   uv pip compile requirements-bench.in -c requirements.lock --generate-hashes --python-version 3.11 -o requirements-bench.lock
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
$(BENCH_STAMP): requirements.lock requirements-bench.lock requirements-bootstrap.lock
	rm -rf $(BENCH_VENV)
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip --disable-pip-version-check install -q --require-hashes --no-deps -r requirements-bootstrap.lock
	$(BENCH_VENV)/bin/python -m pip --disable-pip-version-check install -q --require-hashes --no-deps --only-binary :all: -r requirements.lock -r requirements-bench.lock
	$(BENCH_VENV)/bin/python scripts/link_src.py
	touch $(BENCH_STAMP)

bench-match: env $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python benchmarks/bench_match.py $(ARGS)

bench-backup: env
	$(PY) benchmarks/bench_backup.py

bench-failover: env env-ha
	$(PY) benchmarks/bench_failover.py

# Rebuild the derived character tables from the pinned npm package (needs npm; running and testing do not).
moji-tables: env
	$(PY) scripts/build_moji_tables.py

screenshots: env
	$(PY) scripts/screenshots.py

# Certificate samples for docs/certificates.md, from a throwaway demo database (needs pdftoppm: poppler-utils).
certificate-samples: env fonts
	$(PY) scripts/certificate_samples.py

clean:
	rm -rf $(VENV) var/*.sqlite3*
