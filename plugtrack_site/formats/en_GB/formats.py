"""How every page writes a date and a time (settings.FORMAT_MODULE_PATH): one format for both, the
24-hour clock of the UK, "7 Dec 2026" and "7 Dec 2026 17:11", in the admin's lists and forms alike and in
the sentences PlugTrack writes (plugtrack_site.dates). What is not set here is Django's own for en-GB."""

DATE_FORMAT = "j M Y"  # 7 Dec 2026
TIME_FORMAT = "H:i"  # 17:11
DATETIME_FORMAT = "j M Y H:i"  # 7 Dec 2026 17:11
SHORT_DATETIME_FORMAT = "d/m/Y H:i"  # 07/12/2026 17:11
# A time in a form: the first is how one is shown (17:11, not 17:11:00); the others are read too.
TIME_INPUT_FORMATS = ["%H:%M", "%H:%M:%S", "%H:%M:%S.%f"]
