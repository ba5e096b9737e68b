"""Argument handling shared by every management command, so `--user` means the same everywhere."""

from django.contrib.auth.models import User
from django.core.management.base import CommandError


def add_user_argument(parser) -> None:
    parser.add_argument("--user", metavar="USERNAME", help="Whose data. May be left out when there is one user.")


def resolve_user(username: str | None) -> User:
    """The named user, or the only user; otherwise a CommandError that lists the choices."""
    if username:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f'No user "{username}". Users: {_usernames()}.')
        return user
    users = list(User.objects.order_by("username")[:2])
    if len(users) == 1:
        return users[0]
    if not users:
        raise CommandError("There are no users yet. Create one with `python manage.py createsuperuser`.")
    raise CommandError(f"There are several users: give --user USERNAME. Users: {_usernames()}.")


def _usernames(limit: int = 20) -> str:
    names = list(User.objects.order_by("username").values_list("username", flat=True)[: limit + 1])
    shown = ", ".join(names[:limit])
    return shown + (", …" if len(names) > limit else "")
