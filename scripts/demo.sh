#!/usr/bin/env bash
# Install, set up SQLite with demo data, and start PlugTrack at http://127.0.0.1:8000/admin/
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
.venv/bin/python -m plugtrack_site.envfile
.venv/bin/python manage.py migrate --no-input
.venv/bin/python manage.py settings_seed
.venv/bin/python manage.py demo_load --url "http://127.0.0.1:${PORT:-8000}/admin/"
exec .venv/bin/python manage.py runserver "127.0.0.1:${PORT:-8000}"
