"""Uploads: streamed to a temporary file on disk, never held in memory, and refused as they arrive
once larger than PLUGTRACK_MAX_UPLOAD_MB."""

from django import forms
from django.conf import settings
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler
from django.http import HttpRequest

MULTIPART_OVERHEAD = 64 * 1024  # the form's other fields and boundaries


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """An upload over the limit is skipped: what is left of it is read and dropped, nothing is
    kept, and `upload_refusal(request)` says why for the form to show."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.limit = settings.PLUGTRACK_MAX_UPLOAD_MB * 1024 * 1024
        self.too_large = content_length > self.limit + MULTIPART_OVERHEAD  # known before a byte is read

    def new_file(self, *args, **kwargs):
        if self.too_large:
            self._refuse()
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:  # a request can lie about its length
            self.file.close()  # a temporary file: deleted on close
            self._refuse()
        return super().receive_data_chunk(raw_data, start)

    def _refuse(self):
        self.request.upload_refusal = (
            f"The file is larger than {settings.PLUGTRACK_MAX_UPLOAD_MB} MB, the most PlugTrack accepts from "
            "the browser (PLUGTRACK_MAX_UPLOAD_MB). Split it, or use the command line "
            "(sessions_import, backup_restore), which has no such limit."
        )
        raise SkipFile


def upload_form_valid(form: forms.Form, request: HttpRequest, field: str) -> bool:
    """`form.is_valid()`, with the reason on `field` when its upload was refused as it arrived."""
    valid = form.is_valid()
    if refusal := getattr(request, "upload_refusal", None):
        form.errors[field] = form.error_class([refusal])
        return False
    return valid
