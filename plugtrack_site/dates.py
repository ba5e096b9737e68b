"""A date or a moment as PlugTrack writes it for a person, wherever it is written (a page, a message, a
report): the site's one format (plugtrack_site/formats: "7 Dec 2026", "7 Dec 2026 17:11"), in the site's
time zone, which each page names once (its footer: admin/base_site.html)."""

import datetime as dt

from django.utils import dateformat, timezone

from .formats.en_GB.formats import DATE_FORMAT, DATETIME_FORMAT


def date_text(day: dt.date) -> str:
    """7 Dec 2026"""
    return dateformat.format(day, DATE_FORMAT)


def moment_text(when: dt.datetime) -> str:
    """7 Dec 2026 17:11, in the site's time zone."""
    return dateformat.format(timezone.localtime(when), DATETIME_FORMAT)
