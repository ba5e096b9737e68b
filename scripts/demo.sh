#!/usr/bin/env bash
# Install, set up SQLite with demo data, and start PlugTrack at http://127.0.0.1:8000/admin/: the web
# server and the background worker (which runs the imports, restores and backups started in the
# admin). Once the server answers, a short block says where to log in. What the server and the worker
# say from then on (each request, each job) goes to data/demo.log, not the terminal, so the block stays
# in view. Ctrl-C stops both.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" requirements.txt
url="http://127.0.0.1:${PORT:-8000}/admin/"
log=data/demo.log
echo "Setting up PlugTrack (database, static files, demo data)..."
.venv/bin/python -m plugtrack_site.envfile
# The set-up's own log lines (INFO) would bury the block below; warnings and errors still show.
LOG_LEVEL=WARNING .venv/bin/python manage.py migrate --no-input -v0
.venv/bin/python manage.py createcachetable  # the cache every web worker shares (the API's limits)
.venv/bin/python manage.py collectstatic --no-input -v0
demo=$(LOG_LEVEL=WARNING .venv/bin/python manage.py demo_load --no-color --url "$url")

mkdir -p data
echo "--- PlugTrack demo started $(date '+%-d %b %Y %H:%M') at ${url}" >>"$log"
# Unbuffered, so that the log is written as things happen (to follow with tail -f).
# One worker: enough for one household (docs/deployment.md: How many workers).
PYTHONUNBUFFERED=1 .venv/bin/python manage.py db_worker >>"$log" 2>&1 &
worker=$!
# --noreload: one process, so that stopping it stops the server (a reloader's child would live on).
PYTHONUNBUFFERED=1 .venv/bin/python manage.py runserver --noreload "127.0.0.1:${PORT:-8000}" >>"$log" 2>&1 &
server=$!
trap 'kill "$worker" "$server" 2>/dev/null; wait 2>/dev/null' EXIT
trap 'exit 130' INT TERM

if ! .venv/bin/python - "${url%admin/}healthz" "$server" <<'EOF'
import os, sys, time, urllib.request

for _ in range(120):  # up to a minute for the server to answer
    try:
        urllib.request.urlopen(sys.argv[1], timeout=2)
        break
    except OSError:
        try:
            os.kill(int(sys.argv[2]), 0)  # still starting? (a server that stopped, its port in use, never answers)
        except OSError:
            sys.exit(1)
        time.sleep(0.5)
else:
    sys.exit(1)
EOF
then
  echo "The web server did not start. The end of ${log} says why:" >&2
  tail -n 15 "$log" >&2
  exit 1
fi
cat <<EOF

------------------------------------------------------------------------
PlugTrack demo is running (web server and background worker).
${demo}
Stop both with Ctrl-C. Each request and job is logged to ${log}
(to follow them: tail -f ${log}).
------------------------------------------------------------------------

EOF
wait "$server"
