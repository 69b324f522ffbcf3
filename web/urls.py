"""The team app's URLs, mounted at ``/`` after every other route."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import path

from web import auth
from web.views import (
    activity,
    backends,
    bulk,
    entities,
    extraction,
    home,
    memories,
    sharing,
    space_create,
    spaces,
    teams,
    transfer,
    webhooks,
)

app_name = "web"

SPACE = "spaces/<slug:team_slug>/<slug:slug>/"
MEMORY = SPACE + "memories/<uuid:memory_id>/"

urlpatterns = [
    path("", home.HomeView.as_view(), name="home"),
    path(
        "signin/",
        auth_views.LoginView.as_view(
            template_name="web/auth/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("signout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/",
        auth.ThrottledPasswordChangeView.as_view(
            template_name="web/auth/password_change.html",
            success_url="/password/done/",
        ),
        name="password_change",
    ),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="web/auth/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path(SPACE, spaces.SpaceView.as_view(), name="space"),
    path(MEMORY, memories.MemoryView.as_view(), name="memory"),
    path(
        MEMORY + "<str:action>/",
        memories.MemoryActionView.as_view(),
        name="memory_action",
    ),
    path(SPACE + "entities/", entities.EntitiesView.as_view(), name="space_entities"),
    path(SPACE + "entities/erase/", entities.EraseView.as_view(), name="space_erase"),
    path(SPACE + "sharing/", sharing.SharingView.as_view(), name="space_sharing"),
    path(SPACE + "sharing/revoke/", sharing.RevokeView.as_view(), name="space_revoke"),
    path(
        "teams/<slug:team_slug>/keys/", teams.TeamKeysView.as_view(), name="team_keys"
    ),
    path(
        "teams/<slug:team_slug>/keys/<int:key_id>/revoke/",
        teams.KeyRevokeView.as_view(),
        name="team_key_revoke",
    ),
    path(
        "teams/<slug:team_slug>/activity/",
        activity.ActivityView.as_view(),
        name="team_activity",
    ),
    path(SPACE + "import/", transfer.ImportView.as_view(), name="space_import"),
    path(
        SPACE + "import/<int:job_pk>/",
        transfer.ImportJobView.as_view(),
        name="space_import_job",
    ),
    path(SPACE + "export/", transfer.ExportView.as_view(), name="space_export"),
    path(SPACE + "backends/", backends.BackendsView.as_view(), name="space_backends"),
    path(SPACE + "webhooks/", webhooks.WebhooksView.as_view(), name="space_webhooks"),
    path(
        SPACE + "webhooks/<int:webhook_pk>/",
        webhooks.WebhookView.as_view(),
        name="space_webhook",
    ),
    path(
        SPACE + "backends/sync/<int:job_pk>/run/",
        backends.SyncRunView.as_view(),
        name="space_sync_run",
    ),
    path(SPACE + "bulk/", bulk.BulkView.as_view(), name="space_bulk"),
    path(
        SPACE + "extraction/",
        extraction.ExtractionView.as_view(),
        name="space_extraction",
    ),
    path(
        SPACE + "extraction/<uuid:event_id>/",
        extraction.ExtractionEventView.as_view(),
        name="space_extraction_event",
    ),
    path("teams/<slug:team_slug>/", teams.TeamView.as_view(), name="team"),
    path(
        "teams/<slug:team_slug>/members/<int:user_pk>/",
        teams.MemberView.as_view(),
        name="team_member",
    ),
    path(
        "teams/<slug:team_slug>/invitations/<int:invitation_pk>/withdraw/",
        teams.InvitationRevokeView.as_view(),
        name="team_invitation_revoke",
    ),
    path(
        "invitations/<str:token>/",
        login_not_required(teams.InvitationAcceptView.as_view()),
        name="invitation_accept",
    ),
    path(
        "password/reset/",
        login_not_required(
            auth_views.PasswordResetView.as_view(
                template_name="web/auth/password_reset.html",
                email_template_name="web/auth/password_reset_email.txt",
                subject_template_name="web/auth/password_reset_subject.txt",
                success_url="/password/reset/sent/",
            )
        ),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        login_not_required(
            auth_views.PasswordResetDoneView.as_view(
                template_name="web/auth/password_reset_done.html"
            )
        ),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        login_not_required(
            auth_views.PasswordResetConfirmView.as_view(
                template_name="web/auth/password_reset_confirm.html",
                success_url="/password/reset/done/",
            )
        ),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        login_not_required(
            auth_views.PasswordResetCompleteView.as_view(
                template_name="web/auth/password_reset_complete.html"
            )
        ),
        name="password_reset_complete",
    ),
    path(
        "teams/<slug:team_slug>/spaces/new/",
        space_create.SpaceCreateView.as_view(),
        name="space_create",
    ),
]
