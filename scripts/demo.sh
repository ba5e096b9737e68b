#!/usr/bin/env bash
# Install, set up SQLite with demo data, and start PlugTrack at http://127.0.0.1:8000/admin/: the web
# server and the background worker (which runs the imports, restores and backups started in the
# admin). Ctrl-C stops both.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
.venv/bin/python -m plugtrack_site.envfile
.venv/bin/python manage.py migrate --no-input
.venv/bin/python manage.py collectstatic --no-input -v0
.venv/bin/python manage.py settings_seed
.venv/bin/python manage.py demo_load --url "http://127.0.0.1:${PORT:-8000}/admin/"
.venv/bin/python manage.py db_worker &
worker=$!
trap 'kill "$worker" 2>/dev/null; wait "$worker" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
.venv/bin/python manage.py runserver "127.0.0.1:${PORT:-8000}"
