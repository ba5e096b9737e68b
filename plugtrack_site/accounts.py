"""Accounts: a person who keeps their charging log in PlugTrack is a staff user in the
"PlugTrack owners" group, which may use the PlugTrack models; the admin scopes them to their rows."""

from django.contrib.auth.models import Group, Permission, User

OWNERS_GROUP = "PlugTrack owners"
OWNED_APPS = ("cars_app", "sessions_app", "settings_app", "tariffs", "statements", "backups", "jobs", "api")


def owner_account_ensure(*, username: str, password: str) -> tuple[User, bool]:
    """Create the owner `username` with `password`, or return the existing one unchanged.

    Returns (user, created). An existing user's password is never changed.
    """
    group = owners_group_permissions_refresh()
    user, created = User.objects.get_or_create(username=username, defaults={"is_staff": True})
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    user.groups.add(group)
    return user, created


def owners_group_permissions_refresh(**kwargs) -> Group:
    """The owners group, allowed every PlugTrack model's permissions, those of models added since too
    (also run after `migrate`, once Django has created the new models' permissions). Adds only:
    a permission an administrator gave the group by hand stays."""
    group, _ = Group.objects.get_or_create(name=OWNERS_GROUP)
    group.permissions.add(*Permission.objects.filter(content_type__app_label__in=OWNED_APPS))
    return group
