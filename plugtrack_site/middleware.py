"""Turns "another operation holds this account" into a page a person can act on, not a 500."""

from django.template.response import TemplateResponse

from .account_lock import AccountBusy, sqlite_busy


class AccountBusyMiddleware:
    """Any view that waited too long for an account's write lock (an admin save during a long
    restore, say), or for SQLite's one writer, answers 503 with what happened and what to do."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if sqlite_busy(exception):
            exception = AccountBusy()
        if not isinstance(exception, AccountBusy):
            return None
        response = TemplateResponse(request, "plugtrack/busy.html", {"message": str(exception)}, status=503)
        response["Retry-After"] = "30"
        return response.render()
