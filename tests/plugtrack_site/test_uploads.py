"""An upload is refused as it arrives once over the limit, even when the request understates its size."""

import os

import pytest
from django.core.files.uploadhandler import SkipFile
from django.test import RequestFactory

from plugtrack_site.uploads import LimitedUploadHandler


def test_an_upload_longer_than_its_request_said_is_cut_off_at_the_limit(settings):
    settings.PLUGTRACK_MAX_UPLOAD_MB = 1
    request = RequestFactory().post("/")
    handler = LimitedUploadHandler(request)
    handler.handle_raw_input(None, {}, content_length=1000, boundary=b"x")  # a lie
    handler.new_file("import_file", "big.csv", "text/csv", 1000)
    handler.receive_data_chunk(b"x" * 1024 * 1024, 0)
    temporary = handler.file.temporary_file_path()
    with pytest.raises(SkipFile):
        handler.receive_data_chunk(b"x", 1024 * 1024)
    assert "larger than 1 MB" in request.upload_refusal
    assert not os.path.exists(temporary)  # nothing of it is kept
