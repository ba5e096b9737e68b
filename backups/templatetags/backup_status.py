"""What the admin's pages say about the person's scheduled backups: the last failure, until a later
backup succeeds (shown on the admin index and the Backups page)."""

from django import template

from backups.models import BackupSchedule

register = template.Library()


@register.simple_tag(takes_context=True)
def backup_failure(context) -> str:
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return ""
    schedule = BackupSchedule.objects.filter(user=request.user).exclude(failure="").first()
    return schedule.failure if schedule else ""
