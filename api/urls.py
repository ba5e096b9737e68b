from django.urls import path

from .routes import api, docs_page

urlpatterns = [
    path("docs", docs_page, name="api-docs"),
    path("", api.urls),
]
