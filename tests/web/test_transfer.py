"""Import in the background with progress, and export, from the team app."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, TestCase
from django.urls import reverse

from accounts.models import Membership
from memories import services
from memories.models import ImportJob, Memory
from tests.db_support import wait_until_session_ended
from tests.web.conftest import XSS, add, signed_in

pytestmark = pytest.mark.django_db


def url(space, name="web:space_import", **extra):
    return reverse(
        name, kwargs={"team_slug": space.team.slug, "slug": space.slug, **extra}
    )


def jsonl(*rows) -> bytes:
    return b"".join(
        (row if isinstance(row, bytes) else json.dumps(row).encode()) + b"\n"
        for row in rows
    )


def upload(client, space, data: bytes, name="memories.jsonl"):
    """POST a file; the job's task (eager in tests) runs at commit, as live."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url(space), {"file": SimpleUploadedFile(name, data)})


def test_an_upload_runs_in_the_background_and_reports_every_line(people, space):
    client = signed_in(people["member"])
    data = jsonl(
        {"content": "Ada likes tea", "user_id": "ada"},
        b"{not json",
        {"content": "Ada likes tea", "user_id": "ada"},
        {"content": "", "user_id": "bob"},
        {"content": "Bob skis", "user_id": "bob", "metadata": {"n": 1}},
    )
    response = upload(client, space, data)
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url(space, "web:space_import_job", job_pk=job.pk)
    assert job.state == "succeeded" and job.payload is None  # eager in tests
    assert (job.total_lines, job.processed_lines) == (5, 5)
    assert (job.created, job.duplicates, job.errors) == (2, 1, 2)
    assert Memory.objects.filter(space=space).count() == 2
    page = client.get(response["Location"]).content.decode()
    assert 'value="100"' in page and "<progress" in page
    assert page.index("malformed JSON") < page.index("created")  # errors first
    assert "Ada likes tea" not in json.dumps(job.results)


def test_the_progress_partial_polls_until_the_job_finishes(people, space):
    client = signed_in(people["viewer"])
    job = ImportJob.objects.create(space=space, total_lines=400, processed_lines=100)
    partial = client.get(
        url(space, "web:space_import_job", job_pk=job.pk), HTTP_HX_REQUEST="true"
    )
    body = partial.content.decode()
    assert 'hx-trigger="every 1s"' in body and 'value="25"' in body
    assert "<html" not in body
    job.state, job.processed_lines = "succeeded", 400
    job.save()
    body = client.get(
        url(space, "web:space_import_job", job_pk=job.pk), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "hx-trigger" not in body and 'value="100"' in body


def test_a_killed_job_resumes_after_its_last_saved_part(people, space, monkeypatch):
    from memories import tasks
    from memories.services import imports

    monkeypatch.setattr(tasks.import_job_run, "delay", lambda *args: None)
    rows = [{"content": f"fact {n}", "user_id": "u"} for n in range(7)]
    job = services.import_job_create(
        actor=_actor(people["member"]), space=space, data=jsonl(*rows)
    )
    real, calls = imports.memories_import_units, []

    def dies_on_the_second_part(**kwargs):
        calls.append(kwargs["units"][0].label)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(imports, "memories_import_units", dies_on_the_second_part)
    with pytest.raises(RuntimeError):
        services.import_job_run(job_pk=job.pk, part_lines=3)
    job.refresh_from_db()
    assert (job.state, job.processed_lines) == ("running", 3)
    assert calls == [1, 4]
    monkeypatch.setattr(imports, "memories_import_units", real)
    job = services.import_job_run(job_pk=job.pk, part_lines=3)
    assert job.state == "succeeded" and job.created == 7
    assert [r["line"] for r in job.results] == list(range(1, 8))
    assert Memory.objects.filter(space=space).count() == 7


def _actor(user):
    from accounts.actors import actor_for_user

    return actor_for_user(user)


def test_the_upload_is_sealed_at_rest_and_task_arguments_hold_only_the_id(
    people, space, settings, monkeypatch
):
    from memories import tasks

    sent = []
    monkeypatch.setattr(tasks.import_job_run, "delay", lambda *args: sent.append(args))
    upload(
        signed_in(people["member"]), space, jsonl({"content": "Ada's secret recipe"})
    )
    job = ImportJob.objects.get()
    assert job.state == "queued" and sent == [(job.pk,)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT payload FROM memories_importjob WHERE id = %s", [job.pk])
        raw = bytes(cursor.fetchone()[0])
    assert b"secret recipe" not in raw and b"QWRhJ3Mgc2VjcmV0" not in raw
    finished = services.import_job_run(job_pk=job.pk, part_lines=1)
    assert finished.state == "succeeded" and finished.payload is None
    assert Memory.objects.filter(space=space).count() == 1


def test_a_person_who_lost_the_permission_meanwhile_fails_the_job(
    people, space, monkeypatch
):
    from memories import tasks

    monkeypatch.setattr(tasks.import_job_run, "delay", lambda *args: None)
    upload(signed_in(people["member"]), space, jsonl({"content": "x"}))
    Membership.objects.filter(user=people["member"]).update(role="viewer")
    job = services.import_job_run(job_pk=ImportJob.objects.get().pk)
    assert job.state == "failed" and "may not add memory" in job.failure
    assert job.payload is None and not Memory.objects.exists()


@pytest.mark.parametrize(
    "data, message",
    [(b"", b"The submitted file is empty"), (b"\n\n", b"holds no line to import")],
)
def test_bad_uploads_are_form_errors(people, space, data, message):
    response = upload(signed_in(people["member"]), space, data)
    assert response.status_code == 400 and message in response.content
    assert not ImportJob.objects.exists()


def test_a_file_over_the_limit_is_refused(people, space, settings):
    settings.IMPORT_MAX_BYTES = 1024
    response = upload(signed_in(people["member"]), space, b"x" * 2000)
    assert response.status_code == 400 and b"the limit is 1,024" in response.content


def test_viewers_see_jobs_but_cannot_upload(people, space):
    client = signed_in(people["viewer"])
    page = client.get(url(space))
    assert page.status_code == 200 and b'type="file"' not in page.content
    assert upload(client, space, jsonl({"content": "x"})).status_code == 403
    assert not ImportJob.objects.exists()


def test_another_team_and_anonymous(people, space):
    job = ImportJob.objects.create(space=space, total_lines=1)
    client = signed_in(people["outsider"])
    for target in (url(space), url(space, "web:space_import_job", job_pk=job.pk),
                   url(space, "web:space_export")):  # fmt: skip
        assert client.get(target).status_code == 404
        assert Client().get(target).status_code == 302
    assert upload(client, space, jsonl({"content": "x"})).status_code == 404


def test_csrf_is_enforced(people, space):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["member"])
    assert upload(client, space, jsonl({"content": "x"})).status_code == 403


def test_export_downloads_what_import_reads(people, space):
    add(space, "Ada likes tea", 1, user_id="ada", categories=["drinks"])
    add(space, XSS[0], 2, user_id="bob")
    response = signed_in(people["viewer"]).get(url(space, "web:space_export"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(
        'attachment; filename="acme-default-'
    )
    assert "no-store" in response["Cache-Control"]
    data = b"".join(response.streaming_content)
    assert len(data.splitlines()) == 2
    other = services.space_create(
        actor=_actor(people["owner"]), team=space.team, slug="copy", name="copy"
    )
    upload(signed_in(people["owner"]), other, data)
    assert ImportJob.objects.get(space=other).created == 2
    assert Memory.objects.filter(space=other).count() == 2


def test_the_mem0_download_comes_back_through_the_background_import(people, space):
    """Download as a mem0 export, upload it as ``mem0`` (explicit, honoured)
    into another space, and again: every memory once, the ids kept."""
    add(space, "Ada likes tea", 1, user_id="ada", categories=["drinks"])
    add(space, "Bob skis", 2, agent_id="coach", metadata={"n": 1})
    response = signed_in(people["viewer"]).get(
        url(space, "web:space_export"), {"format": "mem0"}
    )
    assert response["Content-Disposition"].endswith('-mem0.json"')
    data = b"".join(response.streaming_content)
    other = services.space_create(
        actor=_actor(people["owner"]), team=space.team, slug="copy", name="copy"
    )
    client = signed_in(people["owner"])
    for _ in range(2):
        with TestCase.captureOnCommitCallbacks(execute=True):
            client.post(
                url(other),
                {"file": SimpleUploadedFile("out.json", data), "format": "mem0"},
            )
    first, second = ImportJob.objects.filter(space=other).order_by("pk")
    assert (first.format, first.created, first.errors) == ("mem0", 2, 0)
    assert (second.created, second.duplicates) == (0, 2)
    assert [r["line"] for r in first.results] == ["memories[1]", "memories[2]"]
    copies = Memory.objects.filter(space=other)
    assert copies.count() == 2
    originals = {
        str(pk)
        for pk in Memory.objects.filter(space=space).values_list("pk", flat=True)
    }
    assert {m.metadata["mem0_id"] for m in copies} == originals


@pytest.mark.parametrize(
    "fmt, data, message",
    [
        ("yaml", b'{"memories": []}', b"Select a valid choice"),
        ("openmemory", b'{"memories": [{"memory": "x"}]}', b"not an OpenMemory export"),
        ("mem0", b"PK\x03\x04zip", b"is a zip, not a mem0 export"),
        ("mcp", b'{"content": "x"}\n', b"no line is an entity or a relation"),
    ],
)
def test_a_file_that_is_not_its_chosen_format_is_a_form_error(
    people, space, fmt, data, message
):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = signed_in(people["member"]).post(
            url(space), {"file": SimpleUploadedFile("f", data), "format": fmt}
        )
    assert response.status_code == 400 and message in response.content
    assert not ImportJob.objects.exists() and not Memory.objects.exists()


@pytest.mark.parametrize("payload", XSS)
def test_filenames_and_errors_are_escaped(people, space, payload):
    upload(signed_in(people["member"]), space, jsonl({payload: 1}), name=payload[:40])
    job = ImportJob.objects.get()
    body = (
        signed_in(people["member"])
        .get(url(space, "web:space_import_job", job_pk=job.pk))
        .content.decode()
    )
    listing = signed_in(people["member"]).get(url(space)).content.decode()
    assert payload not in body and payload not in listing


def test_a_job_another_worker_runs_is_left_alone(people, space, monkeypatch):
    from django.db import connections

    from memories import tasks

    monkeypatch.setattr(tasks.import_job_run, "delay", lambda *args: None)
    job = services.import_job_create(
        actor=_actor(people["member"]), space=space, data=jsonl({"content": "x"})
    )
    other = connections.create_connection("default")  # another worker's session
    try:
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_lock(hashtext(%s))", [f"import:{job.pk}"]
            )
        assert services.import_job_run(job_pk=job.pk).state == "queued"
        assert not Memory.objects.exists()
        pid = other.connection.info.backend_pid
    finally:
        other.close()  # a killed worker's connection goes the same way
    # The server ends that session (and its locks) a moment after the
    # client hangs up: wait for it, as the next run on a real worker would.
    with connection.cursor() as cursor:
        wait_until_session_ended(cursor, pid)
    assert services.import_job_run(job_pk=job.pk).state == "succeeded"
