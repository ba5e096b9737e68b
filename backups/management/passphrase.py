"""The passphrase of an encrypted backup on the command line: from PLUGTRACK_BACKUP_PASSPHRASE (for
scripts), else typed on the terminal, unseen (twice when it encrypts). Never an argument, which
other users of the machine could read in the process list."""

import getpass
import os
import sys

from django.core.management.base import CommandError

from plugtrack_site.command_args import EXIT_REFUSED

PASSPHRASE_VARIABLE = "PLUGTRACK_BACKUP_PASSPHRASE"


def passphrase_read(*, purpose: str, confirm: bool) -> str:
    if passphrase := os.environ.get(PASSPHRASE_VARIABLE):
        return passphrase
    if not sys.stdin.isatty():
        raise CommandError(
            f"{purpose} needs a passphrase: set {PASSPHRASE_VARIABLE}, or run this in a terminal to type it.",
            returncode=EXIT_REFUSED,
        )
    passphrase = getpass.getpass("Passphrase: ")
    if confirm and getpass.getpass("The same passphrase again: ") != passphrase:
        raise CommandError("The two passphrases differ: nothing was written.", returncode=EXIT_REFUSED)
    return passphrase
