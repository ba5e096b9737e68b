"""{{ columns|columns_said }}: the columns an import read, as its report names them ("energy (kWh) from
“Energie (kWh)”"), the same words as the import's own page."""

from django import template

from ..admin.imports import columns_said as said

register = template.Library()


@register.filter
def columns_said(columns) -> str:
    return said(columns) if isinstance(columns, dict) else ""
