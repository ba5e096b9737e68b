"""New sessions priced as they arrive: a session added (the admin, the API) or an import committed is
told as `session.created` (plugtrack_site.events), and its sessions' costs are worked out at once by
the owner's tariffs, as a recompute would (none are recorded as a recompute: there is nothing to undo,
they had no figures before). An owner without tariff assignments costs nothing here."""

from django.contrib.auth.models import User
from django.db.models import Max, Min

from plugtrack_site.events import SESSION_CREATED
from sessions_app.models import ChargingSession
from sessions_app.services import charging_session_costs_write

from .costs import Selection, session_costs_worked_out
from .models import Assignment


def new_sessions_priced(sender, *, user_id: int, kind: str, data: dict, **kwargs) -> None:
    if kind != SESSION_CREATED or not Assignment.objects.filter(user_id=user_id).exists():
        return
    new = ChargingSession.objects.filter(user_id=user_id)
    new = new.filter(pk=data["session"]["id"]) if "session" in data else new.filter(batch_id=data["import"]["id"])
    ids = set(new.values_list("pk", flat=True))
    if not ids:
        return  # (undone before this ran)
    span = new.aggregate(first=Min("date"), last=Max("date"))
    car = data.get("car")
    selection = Selection(user=User.objects.get(pk=user_id), car_id=car["id"] if car else None,
                          date_from=span["first"], date_to=span["last"])  # fmt: skip
    worked = session_costs_worked_out(selection=selection)
    charging_session_costs_write(user_id=user_id, costs=(
        each.after for each in worked if each.session_id in ids and each.changed
    ))  # fmt: skip
