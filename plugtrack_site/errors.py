"""The one family of domain exceptions. Every interface (command, admin, future API) turns a
PlugTrackError into a message for a person, never into a traceback.

A message may ask the person for a choice (an `Ask` among its parts: "give the currency with
--currency EUR --rate 0.86"). The command line and the admin offer the same choice differently, an
option and a field on a page, so such a message is written once and rendered twice: `str(error)`
names the command line's option, `error.for_admin()` the admin's field, never an option a person
in the admin cannot type anywhere."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Ask:
    """A choice a message asks for: the command line's option ("--currency EUR --rate 0.86"), the
    admin's field label ("Currency of its costs"), and which answer it is (`choice`: ImportChoices'
    name, "currency"), so that a page can ask it. `said`: how the admin's message says it, when the
    field's label in quotes does not read well there."""

    option: str
    field: str
    choice: str = ""
    said: str = ""

    def for_admin(self) -> str:
        return self.said or f"“{self.field}”"


class PlugTrackError(Exception):
    """An expected failure whose message says what is wrong and what to do. `parts`: the message's
    text, with an Ask wherever it names a choice (see the module's docstring)."""

    def __init__(self, *parts: "str | Ask"):
        super().__init__("".join(part.option if isinstance(part, Ask) else str(part) for part in parts))
        self.parts = parts

    def for_admin(self) -> str:
        """The message as the admin shows it: each choice by its field, never by an option."""
        return "".join(part.for_admin() if isinstance(part, Ask) else str(part) for part in self.parts)

    @property
    def asks(self) -> list[Ask]:
        return [part for part in self.parts if isinstance(part, Ask)]


def excerpt(value: str, limit: int = 40) -> str:
    """`value` cut to about `limit` characters for a message: a hostile file's value may be huge."""
    return value if len(value) <= limit else f"{value[: limit - 1]}…"
