from django.db import OperationalError
from django_tasks_db.management.commands import db_worker

from jobs.signals import worker_started
from plugtrack_site.account_lock import sqlite_busy


class Command(db_worker.Command):
    """django-tasks' worker, which stops when it finds SQLite's one write lock held longer than the
    busy timeout while it looks for work (a long import or restore run from the command line):
    this one waits and goes on looking. A job it runs is never affected: each runs once, whole."""

    help = "Run PlugTrack's background worker (django-tasks' db_worker), which waits out a busy SQLite database."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        # Never reload by default (django-tasks reloads with DEBUG on): the reloader runs the worker in a
        # child process that outlives a kill of its parent (Ctrl-C of demo.sh, a test) and goes on taking jobs.
        parser.set_defaults(reload=False)

    def handle(self, *args, **options) -> None:
        while True:
            try:
                # (inside the wait: what the signal's receivers write may find the database busy too)
                worker_started.send(sender=Command)
                return super().handle(*args, **options)
            except OperationalError as error:
                if not sqlite_busy(error):
                    raise
                self.stderr.write("The database is busy with another write; the worker waits and goes on.")
