from collections.abc import Callable
from pathlib import Path

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from plugtrack_site.admin_scoping import OwnedModelAdmin
from plugtrack_site.dates import moment_text

from .kinds import KINDS
from .models import Job
from .services import job_confirm, job_error_file, job_state, jobs_unconfirmed_expire


def job_page_url(job: Job) -> str:
    return reverse("admin:jobs_job_change", args=[job.pk])


# What a kind's job page shows besides its report (e.g. a form to answer the question its check
# stopped at): context for its report template, registered by the admin of the app that owns the kind.
PAGE_CONTEXT: dict[str, Callable[[HttpRequest, Job], dict]] = {}


def job_page_context_register(kind: str, context: Callable[[HttpRequest, Job], dict]) -> None:
    PAGE_CONTEXT[kind] = context


@admin.register(Job)
class JobAdmin(OwnedModelAdmin):
    """Each owner's jobs with their outcome; a job's page shows its progress, then its report."""

    list_display = ["created_at", "job", "status", "finished_at", "summary"]
    list_filter = ["kind", "status"]

    def has_add_permission(self, request):
        return False  # a job is started from the page of its work (import, restore, backups)

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="job")
    def job(self, job):
        return format_html('<a href="{}">{}</a>', job_page_url(job), job)

    @admin.display(description="outcome")
    def summary(self, job):
        return " ".join(text for _level, text in job.outcome[:1])

    def changelist_view(self, request, extra_context=None):
        jobs_unconfirmed_expire(user=request.user)  # a check left unconfirmed for a day is listed as expired
        for job in self.get_queryset(request).filter(status=Job.Status.RUNNING):
            job_state(job)  # a job whose worker died is listed as failed, not running for ever
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/progress/", view(self.progress_view), name="jobs_job_progress"),
            path("<int:pk>/confirm/", view(self.confirm_view), name="jobs_job_confirm"),
            path("<int:pk>/errors/", view(self.errors_view), name="jobs_job_errors"),
            *super().get_urls(),
        ]

    def _job(self, request, pk) -> Job:
        job = get_object_or_404(self.get_queryset(request), pk=pk)  # only the user's own jobs
        if not KINDS[job.kind].permitted(request.user, job):
            raise PermissionDenied
        return job

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The job page: progress while it runs (updated live with JavaScript), then its report."""
        job = self._job(request, object_id)
        if job.status == Job.Status.CHECKED:
            jobs_unconfirmed_expire(user=job.user)  # never offered for confirmation once it has expired
            job.refresh_from_db()
        state = job_state(job)  # marks a job whose worker died as stopped
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": str(job),
            "job": job,
            "state": state,
            "report_template": KINDS[job.kind].report_template,
            "confirm_url": reverse("admin:jobs_job_confirm", args=[job.pk]),
            "progress_url": reverse("admin:jobs_job_progress", args=[job.pk]),
            **(PAGE_CONTEXT[job.kind](request, job) if job.kind in PAGE_CONTEXT and job.finished else {}),
        }
        return TemplateResponse(request, "admin/jobs/job/job.html", context)

    def progress_view(self, request, pk):
        state = job_state(self._job(request, pk))
        return JsonResponse(vars(state))

    def errors_view(self, request, pk):
        """Every error of the job's check, as the CSV file it wrote (the page lists the first ones)."""
        job = self._job(request, pk)
        path = job_error_file(job)
        if path is None:
            raise Http404("This job has no error file (any more).")
        return FileResponse(path.open("rb"), as_attachment=True, filename=f"{Path(job.upload_name).stem}.err.csv")

    @method_decorator(require_POST)
    def confirm_view(self, request, pk):
        job = self._job(request, pk)
        choices = {name: name in request.POST for name in KINDS[job.kind].confirm_options}
        if not job_confirm(job=job, options=choices):
            job.refresh_from_db()
            if job.status == Job.Status.EXPIRED:
                messages.warning(request, "This check has expired, so nothing was run: upload the file again.")
            else:
                when = f" at {moment_text(job.started_at)}" if job.started_at else ""
                messages.info(request, f"This was confirmed already{when}: it runs once. Here is where it stands.")
        return redirect(job_page_url(job))
