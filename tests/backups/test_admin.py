from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from backups.models import Backup
from backups.services import backup_create
from cars_app.models import Car
from jobs.models import Job

from .conftest import dump
from .zip_helpers import altered, read_members

CHANGELIST = "admin:backups_backup_changelist"


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"


def zip_upload(path) -> SimpleUploadedFile:
    return SimpleUploadedFile("backup.zip", Path(path).read_bytes(), content_type="application/zip")


def test_create_list_and_download(owner_client, account):
    response = owner_client.post(reverse("admin:backups_backup_create"), {"encryption": "plain"}, follow=True)
    assert "Backup written: 2 cars, 3 sessions, 10 settings." in response.content.decode()
    backup = Backup.objects.get()
    html = owner_client.get(reverse(CHANGELIST)).content.decode()
    assert 'title="plugtrack_backup_alice_' in html and ">Download</a>" in html and "manual" in html

    download = owner_client.get(reverse("admin:backups_backup_download", args=[backup.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith('attachment; filename="plugtrack_backup_alice_')
    assert b"".join(download.streaming_content) == Path(backup.path).read_bytes()


def test_a_staff_user_sees_and_downloads_only_their_own_backups(owner_client, account, other_owner):
    theirs = backup_create(user=other_owner)
    backup_create(user=account)
    html = owner_client.get(reverse(CHANGELIST)).content.decode()
    assert "plugtrack_backup_alice_" in html and "plugtrack_backup_bob_" not in html
    assert owner_client.get(reverse("admin:backups_backup_download", args=[theirs.pk])).status_code == 404


def checked_restore(client, path, mode: str):
    """Upload a backup; the job page its check lands on (jobs run at once in tests)."""
    return client.post(
        reverse("admin:backups_backup_restore"), {"backup_file": zip_upload(path), "mode": mode}, follow=True
    )


def test_restore_shows_the_dry_run_then_confirms(owner_client, account, tmp_path):
    backup = backup_create(user=account, target=tmp_path / "mine.zip")
    expected = dump(account)
    Car.objects.filter(user=account, name="Zoe").delete()

    response = checked_restore(owner_client, backup.path, "replace")
    html = response.content.decode()
    assert "What this replace restore would do (nothing has been written yet)" in html
    assert "Replace first deletes all your current data: 1 cars, 2 sessions, 10 settings." in html
    assert Car.objects.filter(user=account).count() == 1  # nothing written yet

    response = owner_client.post(response.context["confirm_url"], follow=True)
    assert "Restored (replace): 2 cars added" in response.content.decode()
    assert dump(account) == expected
    assert Backup.objects.filter(kind="automatic").count() == 1
    assert not list((Path(backup.path).parent / "data").glob("uploads/**/*.zip"))


def test_a_hostile_upload_is_refused_with_its_reason(owner_client, account):
    bad = SimpleUploadedFile("backup.zip", b"not a zip at all", content_type="application/zip")
    response = owner_client.post(
        reverse("admin:backups_backup_restore"), {"backup_file": bad, "mode": "merge"}, follow=True
    )
    assert "backup.zip is not a ZIP file" in response.content.decode()
    assert response.context["job"].status == Job.Status.FAILED and "Confirm" not in response.content.decode()


def test_another_users_job_cannot_be_seen_or_confirmed(owner_client, account, other_owner, backup_path):
    before = dump(account)
    bobs = Client()
    bobs.force_login(other_owner)
    job = checked_restore(bobs, backup_path, "merge").context["job"]
    assert owner_client.get(reverse("admin:jobs_job_change", args=[job.pk])).status_code == 404
    assert owner_client.post(reverse("admin:jobs_job_confirm", args=[job.pk])).status_code == 404
    assert dump(account) == before and not Car.objects.filter(user=other_owner).exists()


def test_backup_pages_render_for_a_superuser(admin_client, account):
    backup_create(user=account)
    assert admin_client.get(reverse(CHANGELIST)).status_code == 200
    assert admin_client.get(reverse("admin:backups_backup_restore")).status_code == 200


def limited_to(user, *codenames: str):
    """Take `user` out of the owners group and give them only these permissions."""
    user.groups.clear()
    user.user_permissions.set(
        Permission.objects.get(content_type__app_label=name.split(".")[0], codename=name.split(".")[1])
        for name in codenames
    )
    return User.objects.get(pk=user.pk)  # a fresh object: permissions are cached per instance


def test_a_user_who_may_only_view_backups_can_neither_create_nor_restore(client, account, backup_path):
    client.force_login(limited_to(account, "backups.view_backup"))
    before, backups_before = dump(account), Backup.objects.count()
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert "Create a backup now" not in html and "Restore from a backup" not in html
    assert client.post(reverse("admin:backups_backup_create")).status_code == 403
    assert client.get(reverse("admin:backups_backup_restore")).status_code == 403
    upload = {"backup_file": zip_upload(backup_path), "mode": "merge"}
    assert client.post(reverse("admin:backups_backup_restore"), upload).status_code == 403
    assert Backup.objects.count() == backups_before and dump(account) == before


def test_a_user_who_may_not_delete_can_merge_but_not_replace(client, account, backup_path):
    merge_only = (
        "backups.view_backup", "cars_app.add_car", "cars_app.change_car", "sessions_app.add_chargingsession",
        "settings_app.add_setting", "settings_app.change_setting",
    )  # fmt: skip
    client.force_login(limited_to(account, *merge_only))
    Car.objects.filter(user=account, name="Zoe").delete()
    before = dump(account)

    refused = client.post(
        reverse("admin:backups_backup_restore"), {"backup_file": zip_upload(backup_path), "mode": "replace"}
    )
    assert "Select a valid choice. replace is not one of the available choices." in refused.content.decode()
    assert 'value="replace"' not in refused.content.decode()
    assert dump(account) == before

    # A merge checked, then a confirm forged to ask for a replace: the merge that was shown runs.
    checked = checked_restore(client, backup_path, "merge")
    response = client.post(checked.context["confirm_url"], {"mode": "replace"}, follow=True)
    assert "Restored (merge): 1 cars added" in response.content.decode()
    assert Car.objects.filter(user=account, name="Zoe").exists()
    assert not Backup.objects.filter(kind="automatic").exists()  # no replace happened


def test_the_confirm_step_runs_the_mode_whose_dry_run_was_shown(owner_client, account, backup_path):
    checked = checked_restore(owner_client, backup_path, "replace")
    response = owner_client.post(checked.context["confirm_url"], {"mode": "merge"}, follow=True)
    assert "Restored (replace)" in response.content.decode()
    assert Backup.objects.filter(kind="automatic").count() == 1


def test_deleting_backups_removes_the_zips_plugtrack_keeps_but_not_one_written_elsewhere(
    owner_client, account, other_owner, tmp_path, django_capture_on_commit_callbacks
):
    kept_by_plugtrack = backup_create(user=account)  # under data/backups/<user id>/
    written_elsewhere = backup_create(user=account, target=tmp_path / "my-copy.zip")
    theirs = backup_create(user=other_owner)
    with django_capture_on_commit_callbacks(execute=True):  # the files go after the commit
        response = owner_client.post(
            reverse(CHANGELIST),
            {
                "action": "delete_selected",
                "_selected_action": [kept_by_plugtrack.pk, written_elsewhere.pk, theirs.pk],
                "post": "yes",
            },
            follow=True,
        )
    assert "Successfully deleted 2 backups." in response.content.decode()
    assert list(Backup.objects.all()) == [theirs]
    assert not Path(kept_by_plugtrack.path).exists()
    assert Path(written_elsewhere.path).exists() and Path(theirs.path).exists()


def test_deleting_one_backup_from_its_page_removes_its_zip(owner_client, account, django_capture_on_commit_callbacks):
    backup = backup_create(user=account)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("admin:backups_backup_delete", args=[backup.pk]), {"post": "yes"}, follow=True
        )
    assert "was deleted successfully" in response.content.decode()
    assert not Backup.objects.exists() and not Path(backup.path).exists()


def test_a_zip_that_cannot_be_removed_is_logged_and_the_page_still_works(
    owner_client, account, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    backups = [backup_create(user=account), backup_create(user=account)]

    def refuse(self, missing_ok=False):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "unlink", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse(CHANGELIST),
            {"action": "delete_selected", "_selected_action": [b.pk for b in backups], "post": "yes"},
            follow=True,
        )
    monkeypatch.undo()
    assert response.status_code == 200 and "Successfully deleted 2 backups." in response.content.decode()
    not_removed = [r.getMessage() for r in caplog.records if "backup_file_not_removed" in r.getMessage()]
    assert len(not_removed) == 2 and "Permission denied" in not_removed[0]


def test_a_backup_upload_over_the_limit_is_refused_as_it_arrives(owner_client, account, settings, tmp_path):
    settings.PLUGTRACK_MAX_UPLOAD_MB = 1
    big = SimpleUploadedFile("big.zip", b"PK\x03\x04" + b"x" * 2 * 1024 * 1024)
    response = owner_client.post(reverse("admin:backups_backup_restore"), {"backup_file": big, "mode": "merge"})
    assert "The file is larger than 1 MB, the most PlugTrack accepts from the browser" in response.content.decode()
    assert not Job.objects.exists() and not any((tmp_path / "data").rglob("*.zip"))


def test_invalid_session_rows_of_a_backup_are_listed_by_line_column_and_value(
    owner_client, account, backup_path, tmp_path
):
    sessions = read_members(backup_path)["sessions.csv"].replace(b",1120,", b",11 20,", 1)
    bad = altered(backup_path, tmp_path / "bad.zip", {"sessions.csv": sessions})
    before = dump(account)
    html = checked_restore(owner_client, bad, "merge").content.decode()
    assert "This backup cannot be restored: 1 session row(s) are invalid." in html
    assert "<td>4</td><td>odometer (miles)</td><td>11 20</td><td>&quot;11 20&quot; is not a whole number.</td>" in html
    assert dump(account) == before


def test_an_encrypted_backup_is_restored_in_the_admin_with_its_passphrase_kept_encrypted(
    owner_client, account, tmp_path
):
    backup = backup_create(user=account, target=tmp_path / "locked.zip", passphrase="correct horse battery")
    expected = dump(account)
    Car.objects.filter(user=account, name="Zoe").delete()
    data = {"backup_file": zip_upload(backup.path), "mode": "merge"}
    response = owner_client.post(reverse("admin:backups_backup_restore"), data, follow=True)
    assert "backup.zip is encrypted: give its passphrase" in response.content.decode()
    wrong = data | {"backup_file": zip_upload(backup.path), "passphrase": "not the passphrase"}
    response = owner_client.post(reverse("admin:backups_backup_restore"), wrong, follow=True)
    assert "The passphrase is not the one backup.zip was encrypted with" in response.content.decode()
    right = data | {"backup_file": zip_upload(backup.path), "passphrase": "correct horse battery"}
    response = owner_client.post(reverse("admin:backups_backup_restore"), right, follow=True)
    assert "What this merge restore would do" in response.content.decode()
    job = Job.objects.order_by("-pk").first()
    assert "correct horse" not in str(job.options) and job.options["passphrase"]  # kept encrypted
    owner_client.post(response.context["confirm_url"], follow=True)
    assert dump(account) == expected


def test_the_restores_check_lists_the_settings_that_change_and_never_a_secret(owner_client, account, backup_path):
    from decimal import Decimal

    from settings_app.models import Setting
    from settings_app.services import settings_update

    settings_update(user=account, values={"petrol_mpg": Decimal("50"), "notification_url": "https://new.example/x"})
    html = checked_restore(owner_client, backup_path, "merge").content.decode()
    assert "Settings that would change" in html
    assert "<tr><td>Petrol car economy (UK mpg)</td><td>50</td><td>45</td></tr>" in html
    assert (
        "<tr><td>Notification URL (secret)</td><td colspan=\"2\">changed (a secret: its values are not shown)</td></tr>"
        in html
    )
    ciphertexts = list(Setting.objects.filter(user=account, encrypted=True).values_list("value", flat=True))
    assert not any(secret in html for secret in ("https://hooks.example/s", "https://new.example/x", *ciphertexts))
    assert "petrol_mpg" not in html and "notification_url" not in html
