"""The one family of domain exceptions. Every interface (command, admin, future API) turns a
PlugTrackError into a message for a person, never into a traceback."""


class PlugTrackError(Exception):
    """An expected failure whose message says what is wrong and what to do."""
