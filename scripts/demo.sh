#!/usr/bin/env bash
# Install, set up SQLite with demo data, and start PlugTrack at http://127.0.0.1:8000/admin/: the web
# server and the background worker (which runs the imports, restores and backups started in the
# admin). Once the server answers, a short block says where to log in. Ctrl-C stops both.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" requirements.txt
url="http://127.0.0.1:${PORT:-8000}/admin/"
echo "Setting up PlugTrack (database, static files, demo data)..."
.venv/bin/python -m plugtrack_site.envfile
# The set-up's own log lines (INFO) would bury the block below; warnings and errors still show.
LOG_LEVEL=WARNING .venv/bin/python manage.py migrate --no-input -v0
.venv/bin/python manage.py createcachetable  # the cache every web worker shares (the API's limits)
.venv/bin/python manage.py collectstatic --no-input -v0
demo=$(LOG_LEVEL=WARNING .venv/bin/python manage.py demo_load --no-color --url "$url")

# One worker: enough for one household (docs/deployment.md: How many workers).
.venv/bin/python manage.py db_worker &
worker=$!
# --noreload: one process, so that stopping it stops the server (a reloader's child would live on).
.venv/bin/python manage.py runserver --noreload "127.0.0.1:${PORT:-8000}" &
server=$!
trap 'kill "$worker" "$server" 2>/dev/null; wait 2>/dev/null' EXIT
trap 'exit 130' INT TERM

.venv/bin/python - "${url%admin/}healthz" <<'EOF'
import sys, time, urllib.request

for _ in range(120):  # up to a minute for the server to answer
    try:
        urllib.request.urlopen(sys.argv[1], timeout=2)
        break
    except OSError:
        time.sleep(0.5)
else:
    sys.exit("The web server did not start: see the lines above.")
EOF
cat <<EOF

------------------------------------------------------------------------
PlugTrack demo is running (web server and background worker).
${demo}
Stop both with Ctrl-C.
------------------------------------------------------------------------

EOF
wait "$server"
