"""Hold one account's write lock until a line arrives on stdin (see tests/processes.py)."""

import sys

import django

django.setup()

from plugtrack_site.account_lock import account_write_lock  # noqa: E402

with account_write_lock(int(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.readline()
