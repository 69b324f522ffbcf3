"""The paths mem0's clients call, at the site root (``/v1/``, ``/v2/``, ``/v3/``).

Included by ``memoryhub/urls.py`` as ``path("", include("memories.mem0api.urls"))``.
Ids are matched as plain segments and checked by the views, so a malformed id
is the same JSON 404 as an unknown one.
"""

from django.urls import path

from memories.mem0api import views

app_name = "mem0api"

urlpatterns = [
    path("v1/ping/", views.PingView.as_view(), name="ping"),
    # add
    path("v3/memories/add/", views.AddView.as_view(), name="add"),
    # get all (v1 also adds and deletes)
    path("v1/memories/", views.MemoriesV1View.as_view(), name="memories-v1"),
    path("v2/memories/", views.ListView.as_view(), name="list-v2"),
    path("v3/memories/", views.ListView.as_view(), name="list-v3"),
    # search
    path("v1/memories/search/", views.SearchView.as_view(), name="search-v1"),
    path("v2/memories/search/", views.SearchView.as_view(), name="search-v2"),
    path("v3/memories/search/", views.SearchView.as_view(), name="search-v3"),
    # one memory
    path(
        "v1/memories/<str:memory_id>/",
        views.MemoryDetailView.as_view(),
        name="memory",
    ),
    path(
        "v1/memories/<str:memory_id>/history/",
        views.MemoryHistoryView.as_view(),
        name="history",
    ),
    # entities
    path("v1/entities/", views.EntitiesView.as_view(), name="entities"),
    path(
        "v1/entities/<str:entity_type>/<path:name>/",
        views.EntityDeleteView.as_view(),
        name="entity-v1",
    ),
    path(
        "v2/entities/<str:entity_type>/<path:name>/",
        views.EntityDeleteView.as_view(),
        name="entity",
    ),
    # batch, exports, feedback, events
    path("v1/batch/", views.BatchView.as_view(), name="batch"),
    path("v1/exports/", views.ExportCreateView.as_view(), name="export"),
    path("v1/exports/get/", views.ExportGetView.as_view(), name="export-get"),
    path("v1/feedback/", views.FeedbackView.as_view(), name="feedback"),
    path("v1/event/<str:event_id>/", views.EventView.as_view(), name="event"),
    path("v1/summary/", views.SummaryView.as_view(), name="summary"),
]
