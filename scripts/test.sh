#!/usr/bin/env bash
# Run the whole test suite (SQLite by default; set DATABASE_URL for PostgreSQL). Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" requirements-dev.txt
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
