"""What the admin's pages say about the person's backups: the last scheduled one's failure until a
later one succeeds, else a copy off the machine that failed and is still to be made (shown on the
admin index and the Backups page)."""

from django import template

from backups.models import BackupSchedule
from backups.offsite import offsite_failure

register = template.Library()


@register.simple_tag(takes_context=True)
def backup_failure(context) -> str:
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return ""
    schedule = BackupSchedule.objects.filter(user=request.user).exclude(failure="").first()
    return schedule.failure if schedule else offsite_failure(request.user)
