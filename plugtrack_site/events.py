"""Events: what happened to an owner's data, told to whoever listens once it is committed.

The apps that own the data (sessions_app, backups, statements) say what happened; an app above them (the
webhooks) listens, so that they need not know it exists. A receiver gets `user_id` (the owner's),
`kind` (one of KINDS) and `data` (JSON-ready: str, int, bool, None, lists and dicts of them).
"""

import logging

from django.contrib.auth.models import User
from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger("plugtrack.events")

SESSION_CREATED = "session.created"  # one per session added (admin, API), one per import (with counts)
IMPORT_FINISHED = "import.finished"
BACKUP_FAILED = "backup.failed"  # a scheduled backup that could not be written or failed its verification
BACKUP_VERIFIED = "backup.verified"
STATEMENT_FINALISED = "statement.finalised"  # a new version of a car's month's statement kept
KINDS = (SESSION_CREATED, IMPORT_FINISHED, BACKUP_FAILED, BACKUP_VERIFIED, STATEMENT_FINALISED)

event_happened = Signal()


def event_on_commit(*, user: User | int, kind: str, data: dict) -> None:
    """Send `event_happened` once the current transaction commits (at once outside one); never when
    it is rolled back. A receiver's failure is logged, never raised into the work that is done."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    user_id = user if isinstance(user, int) else user.pk

    def send() -> None:
        for receiver, error in event_happened.send_robust(sender=kind, user_id=user_id, kind=kind, data=data):
            if isinstance(error, Exception):
                logger.error("event_receiver_failed kind=%s user_id=%s receiver=%r", kind, user_id, receiver,
                             exc_info=error)  # fmt: skip

    transaction.on_commit(send)
