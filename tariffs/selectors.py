"""Reads of the tariffs app (besides the costs worked out, costs.py)."""

from django.contrib.auth.models import User

from .file_format import tariffs_file_data
from .models import Assignment, Tariff


def tariffs_export(*, user: User) -> dict:
    """The owner's tariffs and assignments as the tariff file's data."""
    tariffs = Tariff.objects.filter(user=user).prefetch_related("versions__bands").order_by("name")
    assignments = Assignment.objects.filter(user=user).select_related("tariff", "car").order_by("valid_from", "pk")
    return tariffs_file_data(tariffs=tariffs, assignments=assignments)
