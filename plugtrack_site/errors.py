"""The one family of domain exceptions. Every interface (command, admin, future API) turns a
PlugTrackError into a message for a person, never into a traceback."""


class PlugTrackError(Exception):
    """An expected failure whose message says what is wrong and what to do."""


def excerpt(value: str, limit: int = 40) -> str:
    """`value` cut to about `limit` characters for a message: a hostile file's value may be huge."""
    return value if len(value) <= limit else f"{value[: limit - 1]}…"
