"""Top-level URLs: admin, REST API, schema and docs, health."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
