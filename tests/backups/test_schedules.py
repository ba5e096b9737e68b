"""Scheduled backups (issue 14, points 1, 2 and 4): due by the owner's schedule with time moved (never
slept), made once per period, a missed one made up once, verified, failures kept until a success,
and pruned grandfather-father-son without touching manual or pre-restore backups."""

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from backups import schedules
from backups.archive import backup_encrypted
from backups.models import Backup, BackupSchedule
from backups.schedules import SchedulePlan, backups_prune, backups_run_due, retention_kept, schedule_save
from backups.services import backup_create
from plugtrack_site.errors import PlugTrackError

LONDON = ZoneInfo("Europe/London")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=LONDON)


@pytest.fixture
def clock(monkeypatch):
    """timezone.now() where the test says: schedules are tested with time moved, not slept."""

    class Clock:
        now: dt.datetime

        def set(self, text: str) -> None:
            self.now = at(text)

    clock = Clock()
    clock.set("2026-11-30 10:00")
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"


def test_a_daily_backup_is_made_once_per_day_at_its_hour_and_not_for_hours_before_it_was_set(account, clock):
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=False))  # set at 10:00
    assert backups_run_due() == []  # today's 03:00 was before the schedule existed
    clock.set("2026-12-01 02:59")
    assert backups_run_due() == []
    clock.set("2026-12-01 03:00")
    [run] = backups_run_due()
    assert run.verified and not run.error and run.slot == "2026-12-01T03:00:00+00:00"
    backup = Backup.objects.get(pk=run.backup_id)
    assert backup.kind == "scheduled" and backup.verified_at and backup.verification_error == ""
    assert Path(backup.path).is_file() and backup.sessions == 3
    clock.set("2026-12-01 23:59")
    assert backups_run_due() == []  # idempotent: the same period makes nothing
    clock.set("2026-12-02 03:30")
    assert len(backups_run_due()) == 1 and Backup.objects.count() == 2


def test_missed_runs_while_the_server_was_off_are_made_up_once_not_repeated(account, clock):
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=False))
    clock.set("2026-12-05 12:00")  # off since the 30th: four slots missed
    assert len(backups_run_due()) == 1 and Backup.objects.count() == 1
    assert backups_run_due() == []


def test_a_weekly_backup_runs_on_its_weekday(account, clock):
    schedule_save(
        user=account,
        plan=SchedulePlan(frequency="weekly", hour=20, weekday=BackupSchedule.Weekday.FRIDAY, encrypt=False),
    )
    clock.set("2026-12-03 21:00")  # a Thursday
    assert backups_run_due() == []
    clock.set("2026-12-04 20:00")  # Friday
    [run] = backups_run_due()
    assert run.slot == "2026-12-04T20:00:00+00:00"
    clock.set("2026-12-10 23:00")
    assert backups_run_due() == []
    clock.set("2026-12-11 20:05")
    assert len(backups_run_due()) == 1


def test_an_encrypted_schedule_keeps_its_passphrase_encrypted_and_writes_encrypted_backups(account, clock):
    with pytest.raises(PlugTrackError, match="need a passphrase"):
        schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=True))
    schedule = schedule_save(
        user=account, passphrase="correct horse battery",
        plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=True),
    )  # fmt: skip
    assert "correct horse" not in schedule.passphrase and schedule.passphrase
    clock.set("2026-12-01 03:00")
    [run] = backups_run_due()
    assert run.encrypted and run.verified and backup_encrypted(run.path)
    # The passphrase stays when the schedule is saved again without one.
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=4, weekday=0, encrypt=True))
    assert BackupSchedule.objects.get().passphrase == schedule.passphrase


def test_a_failed_verification_is_kept_on_the_schedule_until_a_later_backup_succeeds(account, clock, monkeypatch,
                                                                                     capsys):  # fmt: skip
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=False))
    real_verify = schedules.backup_verify

    def damaged(backup, passphrase):
        Path(backup.path).write_bytes(b"not a zip any more")  # the disk lost it between writing and reading
        return real_verify(backup, passphrase)

    monkeypatch.setattr(schedules, "backup_verify", damaged)
    clock.set("2026-12-01 03:00")
    with pytest.raises(CommandError, match="1 scheduled backup\\(s\\) failed") as failed:
        call_command("backups_run_due", "--json")
    assert failed.value.returncode == 1
    [run] = json.loads(capsys.readouterr().out)["runs"]
    assert "failed its verification" in run["error"] and "is not a ZIP file" in run["error"]
    schedule = BackupSchedule.objects.get()
    assert schedule.failed_at and "failed its verification" in schedule.failure
    assert "is not a ZIP file" in Backup.objects.get().verification_error
    monkeypatch.setattr(schedules, "backup_verify", real_verify)
    clock.set("2026-12-02 03:00")
    call_command("backups_run_due")
    assert BackupSchedule.objects.get().failure == "" and "verified" in capsys.readouterr().out


def test_retention_keeps_the_newest_of_each_day_week_and_month():
    backups = [
        Backup(pk=number, created_at=at("2026-12-31 03:00") - dt.timedelta(days=number)) for number in range(400)
    ]
    kept = retention_kept(backups, daily=7, weekly=4, monthly=12)
    days = sorted(timezone.localtime(backup.created_at).date().isoformat() for backup in backups if backup.pk in kept)
    assert days[-7:] == [f"2026-12-{day}" for day in range(25, 32)]  # the last 7 days
    assert "2026-12-20" in days and "2026-12-13" in days  # Sundays: the newest of earlier ISO weeks
    assert "2026-11-30" in days and "2026-01-31" in days and "2025-12-31" not in days  # 12 month-ends
    # Weeks 53 and 52 (Dec 28-31, 21-27) and December are kept by the days already: 2 more weeks, 11 more months.
    assert len(kept) == 7 + 2 + 11


def test_pruning_deletes_only_old_scheduled_backups_and_their_files(account, clock, capsys,
                                                                   django_capture_on_commit_callbacks):  # fmt: skip
    manual = backup_create(user=account)
    before_replace = backup_create(user=account, kind=Backup.Kind.AUTOMATIC)
    schedule_save(
        user=account,
        plan=SchedulePlan(
            frequency="daily",
            hour=3,
            weekday=0,
            encrypt=False,
            keep_daily=2,
            keep_weekly=0,
            keep_monthly=0,
        ),
    )  # fmt: skip
    made = []
    for day in range(1, 6):
        clock.set(f"2026-12-0{day} 03:00")
        with django_capture_on_commit_callbacks(execute=True):  # (files go once the records are gone for good)
            made += [run.backup_id for run in backups_run_due()]  # (each run prunes as it goes)
    assert sorted(Backup.objects.filter(kind="scheduled").values_list("pk", flat=True)) == made[-2:]
    assert Backup.objects.filter(pk__in=[manual.pk, before_replace.pk]).count() == 2
    on_disk = {path.name for path in Path(manual.path).parent.glob("*.zip")}
    assert on_disk == {Path(backup.path).name for backup in Backup.objects.all()}
    # backups_prune shows the policy on a dry run, then applies it.
    BackupSchedule.objects.update(keep_daily=1)
    call_command("backups_prune", "--dry-run")
    assert "Would delete 1 scheduled backup(s)." in capsys.readouterr().out and Backup.objects.count() == 4
    call_command("backups_prune", "--json")
    assert len(json.loads(capsys.readouterr().out)["deleted"]) == 1 and Backup.objects.count() == 3
    assert backups_prune() == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_worker_makes_a_backup_missed_while_it_was_off_once_at_its_start_then_queues_the_next(
    owner, tmp_path, settings
):
    from django_tasks_db.models import DBTaskResult

    from backups.tasks import backups_due_run, backups_tick_ensure

    from ..jobs.test_worker import DATABASE_BACKEND, worker
    from ..processes import finished

    settings.TASKS = {"default": {"BACKEND": DATABASE_BACKEND}}  # queued in the database, as in production
    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"
    schedule_save(user=owner, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=False))
    BackupSchedule.objects.update(active_since=timezone.now() - dt.timedelta(days=3))  # set up days ago
    assert backups_tick_ensure() and not backups_tick_ensure()  # one queued run, whoever asks
    # The server was off when it was due: its time has passed by the time the worker starts.
    DBTaskResult.objects.update(run_after=timezone.now() - dt.timedelta(days=2))
    code, _, stderr = finished(worker("--batch", data_dir=settings.PLUGTRACK_DATA_DIR))
    assert code == 0, stderr
    assert Backup.objects.filter(user=owner, kind="scheduled").count() == 1  # made up once, not three times
    assert Backup.objects.get().verified_at is not None
    # (the worker's start queues the other apps' runs too: the tariffs' prices, the statements)
    queued = DBTaskResult.objects.filter(status="READY", task_path=backups_due_run.module_path).get()
    assert queued.run_after > timezone.now() and queued.run_after.minute == 0  # the next hour's run


def test_the_owner_sets_the_schedule_in_the_admin_and_sees_a_failure_until_a_success(owner_client, account, clock,
                                                                                     monkeypatch):  # fmt: skip
    from django.urls import reverse

    page = reverse("admin:backups_backup_schedule")
    form = {"frequency": "daily", "hour": "3", "weekday": "6", "encrypt": "on", "keep_daily": "7", "keep_weekly": "4",
            "keep_monthly": "12", "passphrase": "", "passphrase_again": ""}  # fmt: skip
    assert "need a passphrase" in owner_client.post(page, form).content.decode()
    mismatch = form | {"passphrase": "correct horse battery", "passphrase_again": "correct horse"}
    assert "The two passphrases differ" in owner_client.post(page, mismatch).content.decode()
    right = form | {"passphrase": "correct horse battery", "passphrase_again": "correct horse battery"}
    response = owner_client.post(page, right, follow=True)
    said = "Backups are made daily at 03:00, encrypted; kept: the last 7 days, 4 weeks and 12 months."
    html = response.content.decode()
    assert html.count(said) == 1 and html.count("Schedule saved.") == 1  # one banner, and the schedule said once
    assert BackupSchedule.objects.get(user=account).encrypt

    real_verify = schedules.backup_verify
    monkeypatch.setattr(schedules, "backup_verify", lambda backup, passphrase: "sessions.csv does not match")
    clock.set("2026-12-01 03:00")
    backups_run_due()
    for url in (reverse("admin:index"), reverse("admin:backups_backup_changelist")):
        html = owner_client.get(url).content.decode()
        assert 'id="pt-backup-failure"' in html and "failed its verification: sessions.csv does not match" in html
    monkeypatch.setattr(schedules, "backup_verify", real_verify)
    clock.set("2026-12-02 03:00")
    backups_run_due()
    assert 'id="pt-backup-failure"' not in owner_client.get(reverse("admin:index")).content.decode()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_runners_at_once_make_one_backup(owner, tmp_path, settings):
    from ..processes import finished_json, manage

    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"
    schedule_save(user=owner, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=False))
    BackupSchedule.objects.update(active_since=timezone.now() - dt.timedelta(days=2))
    # cron's and the worker's run, started together, in processes of their own
    runners = [manage("backups_run_due", "--json", data_dir=settings.PLUGTRACK_DATA_DIR) for _ in range(2)]
    results = [finished_json(runner) for runner in runners]
    assert [code for code, _ in results] == [0, 0]
    assert sorted(len(report["runs"]) for _, report in results) == [0, 1]
    assert Backup.objects.filter(kind="scheduled").count() == 1


# --- found by review ------------------------------------------------------------------------------


def test_the_night_the_clocks_go_back_makes_one_backup_not_two(account, clock):
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=1, weekday=0, encrypt=False))
    BackupSchedule.objects.update(active_since=at("2026-10-20 00:00"))
    first = dt.datetime(2026, 10, 25, 0, 0, tzinfo=dt.UTC)  # 01:00 BST
    clock.now = first
    assert len(backups_run_due()) == 1
    clock.now = first + dt.timedelta(hours=1)  # 01:00 GMT, the same wall-clock hour again
    assert backups_run_due() == []


def test_a_run_killed_midway_leaves_a_failure_on_the_schedule_not_silence(account, clock, monkeypatch):
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=False))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as SIGINT, or SIGKILL, would end it: nothing after the claim runs

    monkeypatch.setattr(schedules, "_run", killed)
    clock.set("2026-12-01 03:00")
    with pytest.raises(KeyboardInterrupt):
        backups_run_due()
    assert (
        "started and has not finished yet; if this stays, PlugTrack was stopped" in BackupSchedule.objects.get().failure
    )


def test_one_owners_unforeseen_failure_does_not_stop_anothers(account, other_owner, clock, monkeypatch):
    for owner in (account, other_owner):
        schedule_save(user=owner, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=False))
    real_create = schedules.backup_create

    def broken_for_alice(*, user, **kwargs):
        if user == account:
            raise RuntimeError("disk controller")
        return real_create(user=user, **kwargs)

    monkeypatch.setattr(schedules, "backup_create", broken_for_alice)
    clock.set("2026-12-01 03:00")
    runs = {run.user: run for run in backups_run_due()}
    assert "stopped unexpectedly (RuntimeError)" in runs["alice"].error and runs["bob"].verified
    assert "stopped unexpectedly" in BackupSchedule.objects.get(user=account).failure


def test_retention_prefers_a_verified_backup_and_always_keeps_the_newest():
    newest, failed, verified = (Backup(pk=number, created_at=at(f"2026-12-0{day} 03:00"), verification_error=error)
                                for number, day, error in [(3, 3, ""), (2, 2, "bad"), (1, 1, "")])  # fmt: skip
    # One monthly backup kept: December's newest verified one, and the newest of all.
    assert retention_kept([newest, failed, verified], daily=0, weekly=0, monthly=1) == {3}
    newest.verification_error = "bad"
    assert retention_kept([newest, failed, verified], daily=0, weekly=0, monthly=1) == {3, 1}


def test_keeping_nothing_is_refused_and_turning_schedules_off_clears_an_old_failure(account):
    with pytest.raises(PlugTrackError, match="Keep at least one"):
        schedule_save(
            user=account,
            plan=SchedulePlan(
                frequency="daily",
                hour=3,
                weekday=0,
                encrypt=False,
                keep_daily=0,
                keep_weekly=0,
                keep_monthly=0,
            ),
        )  # fmt: skip
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=False))
    BackupSchedule.objects.update(failure="The scheduled backup … failed", failed_at=timezone.now())
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=4, weekday=0, encrypt=False))
    assert BackupSchedule.objects.get().failure  # still news while backups are scheduled
    schedule_save(user=account, plan=SchedulePlan(frequency="off", hour=4, weekday=0, encrypt=False))
    assert BackupSchedule.objects.get().failure == ""


def test_a_key_rotation_reencrypts_the_schedules_passphrase(account, settings, clock):
    from cryptography.fernet import Fernet

    from settings_app.services import settings_rotate_key

    schedule_save(
        user=account, passphrase="correct horse battery",
        plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=True),
    )
    new_key = Fernet.generate_key().decode()
    settings.PLUGTRACK_ENCRYPTION_KEYS = [new_key, *settings.PLUGTRACK_ENCRYPTION_KEYS]
    settings_rotate_key()
    settings.PLUGTRACK_ENCRYPTION_KEYS = [new_key]  # the old key dropped, as docs/deployment.md says one may
    clock.set("2026-12-01 03:00")
    [run] = backups_run_due()
    assert run.verified and run.encrypted


def test_a_starting_worker_queues_the_hourly_run(owner, settings):
    from django_tasks_db.models import DBTaskResult

    from jobs.signals import worker_started

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    worker_started.send(sender=None)
    worker_started.send(sender=None)
    assert DBTaskResult.objects.filter(task_path="backups.tasks.backups_due_run", status="READY").count() == 1


def test_a_schedule_passphrase_no_key_can_read_is_named_by_the_rotation(account, settings):
    from cryptography.fernet import Fernet

    from settings_app.services import settings_rotate_key

    schedule_save(
        user=account, passphrase="correct horse battery",
        plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=True),
    )
    settings.PLUGTRACK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the key it was kept with is gone
    assert ("alice", "scheduled backups' passphrase") in settings_rotate_key().unreadable


def far_from_any_slot(owner, passphrase: str | None = None, **options) -> BackupSchedule:
    """A daily schedule set days ago whose hour is half a day from now: the slot stays the same for
    the hours a test moves the clock (in a process of its own the clock is the real one)."""
    hour = (timezone.localtime().hour + 12) % 24
    plan = SchedulePlan(frequency="daily", hour=hour, weekday=0, **{"encrypt": False} | options)
    schedule = schedule_save(user=owner, plan=plan, passphrase=passphrase)
    BackupSchedule.objects.update(active_since=timezone.now() - dt.timedelta(days=2))
    schedule.refresh_from_db()
    return schedule


@pytest.mark.django_db(transaction=True)
def test_backups_run_due_json_is_the_json_alone_with_what_it_logs_on_stderr(owner, tmp_path, settings):
    from cryptography.fernet import Fernet

    from ..processes import finished, manage

    far_from_any_slot(owner, encrypt=True, passphrase="correct horse battery")
    other_keys = Fernet.generate_key().decode()  # the passphrase's key is gone: the backup fails, logged as an error
    runner = manage("backups_run_due", "--json", data_dir=tmp_path / "data", PLUGTRACK_ENCRYPTION_KEYS=other_keys)
    code, stdout, stderr = finished(runner)
    report = json.loads(stdout)
    assert code == 1 and not report["ok"] and "None of the keys" in report["runs"][0]["error"]
    assert "ERROR plugtrack.backups backup_scheduled_failed" in stderr


# --- issue 20, point 8: a run killed midway is made again, once ------------------------------------

ABANDONED = BackupSchedule.RUN_ABANDONED_AFTER


def killed_in_its_run(monkeypatch, where: str) -> None:
    """End the run at `where` as SIGKILL (or a deploy) would: nothing after it runs, not even an except."""

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
        patched.setattr(schedules, where, killed)
        backups_run_due()


def test_a_run_in_progress_is_not_made_again_nor_a_later_slot_started_until_it_is_abandoned(account, clock,
                                                                                           monkeypatch):  # fmt: skip
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=False))
    clock.set("2026-12-01 03:00")
    killed_in_its_run(monkeypatch, "backup_create")
    assert BackupSchedule.objects.get().claimed_at == at("2026-12-01 03:00")
    clock.set("2026-12-01 04:59")  # it may still be writing: not started again
    assert backups_run_due() == [] and not Backup.objects.exists()
    assert "started and has not finished yet" in BackupSchedule.objects.get().failure
    assert "made again 2 hours after it started" in BackupSchedule.objects.get().failure

    said_meanwhile = []
    real_create = schedules.backup_create

    def create(**kwargs):
        said_meanwhile.append(BackupSchedule.objects.get().failure)
        return real_create(**kwargs)

    monkeypatch.setattr(schedules, "backup_create", create)
    clock.set("2026-12-01 05:00")  # two hours after it started: abandoned, made again
    [run] = backups_run_due()
    assert run.redone and run.verified and not run.error and run.slot == "2026-12-01T03:00:00+00:00"
    assert said_meanwhile == [
        "The scheduled backup of 1 Dec 2026 03:00 was interrupted (PlugTrack was stopped while making it); it is "
        "being made again since 1 Dec 2026 05:00."
    ]
    schedule = BackupSchedule.objects.get()
    assert (schedule.failure, schedule.failed_at, schedule.claimed_at) == ("", None, None)
    assert Backup.objects.get().verified_at and backups_run_due() == []


def test_a_run_killed_while_verifying_is_made_again_and_its_unverified_backup_replaced(
    account, clock, monkeypatch, django_capture_on_commit_callbacks
):
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=False))
    clock.set("2026-12-01 03:00")
    killed_in_its_run(monkeypatch, "backup_verify")
    [unverified] = Backup.objects.all()
    assert unverified.verified_at is None and Path(unverified.path).is_file()

    clock.set("2026-12-01 05:30")
    with django_capture_on_commit_callbacks(execute=True):  # (a deleted backup's file goes after the commit)
        [run] = backups_run_due()
    assert run.redone and run.verified
    [backup] = Backup.objects.all()  # one backup for the slot, verified
    assert backup.pk == run.backup_id != unverified.pk and backup.verified_at and backup.verification_error == ""
    assert [path.name for path in Path(backup.path).parent.iterdir()] == [Path(backup.path).name]


def test_a_redo_that_fails_says_the_backup_was_interrupted_and_made_again(account, clock, monkeypatch):
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=False))
    clock.set("2026-12-01 03:00")
    killed_in_its_run(monkeypatch, "backup_create")

    def full(**kwargs):
        raise PlugTrackError("The backup could not be written, so none was kept (No space left on device).")

    monkeypatch.setattr(schedules, "backup_create", full)
    clock.set("2026-12-01 06:00")
    [run] = backups_run_due()
    said = (
        "The scheduled backup of 1 Dec 2026 03:00 (interrupted, and made again at 1 Dec 2026 06:00) could not be "
        "written: The backup could not be written, so none was kept (No space left on device)."
    )
    assert run.error == said and BackupSchedule.objects.get().failure == said
    assert BackupSchedule.objects.get().claimed_at is None  # it finished, with a failure: the next slot's run is next
    clock.set("2026-12-01 09:00")
    assert backups_run_due() == []


def test_an_abandoned_run_found_only_at_a_later_slot_is_made_up_by_that_slots_backup(account, clock, monkeypatch):
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=False))
    clock.set("2026-12-01 03:00")
    killed_in_its_run(monkeypatch, "backup_create")
    clock.set("2026-12-02 03:10")  # the server was off until the next day's slot
    [run] = backups_run_due()
    assert run.slot == "2026-12-02T03:00:00+00:00" and run.verified and not run.redone
    assert Backup.objects.count() == 1 and BackupSchedule.objects.get().claimed_at is None


def test_a_runner_that_read_the_abandoned_run_before_another_took_it_over_makes_nothing(account, clock, monkeypatch):
    """The take-over is one conditional UPDATE of the schedule as it was read: the other runner here
    runs whole between this one's read and its claim (the interleaving processes leave to chance)."""
    schedule_save(user=account, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=False))
    clock.set("2026-12-01 03:00")
    killed_in_its_run(monkeypatch, "backup_create")
    clock.set("2026-12-01 05:00")
    real_claimed, other = schedules._claimed, []

    def claimed(schedule, slot, now, **kwargs):
        if not other:
            other.append("running")  # (its own claim goes straight through)
            other.append(backups_run_due(now=now))
        return real_claimed(schedule, slot, now, **kwargs)

    monkeypatch.setattr(schedules, "_claimed", claimed)
    assert backups_run_due() == []
    [_, [run]] = other
    assert run.redone and run.verified and Backup.objects.get().pk == run.backup_id


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_scheduled_backup_killed_mid_write_is_made_again_once_verified_and_nothing_is_left(owner, tmp_path,
                                                                                            settings):  # fmt: skip
    from .test_crash import WRITING, age, big_account, killed_when

    big_account(owner)
    data_dir = settings.PLUGTRACK_DATA_DIR = tmp_path / "data"
    far_from_any_slot(owner)
    folder = data_dir / "backups" / str(owner.pk)
    killed_when(["backups_run_due"], WRITING, folder, data_dir)  # a deploy, or the out-of-memory killer

    schedule = BackupSchedule.objects.get()
    assert schedule.claimed_at and "started and has not finished yet" in schedule.failure
    assert not Backup.objects.exists()
    [half_written] = folder.iterdir()
    assert backups_run_due(now=schedule.claimed_at + dt.timedelta(hours=1)) == []  # it may still be writing

    # After the bound, for the files as for the clock: the next run makes the slot again, once.
    later = schedule.claimed_at + ABANDONED + dt.timedelta(minutes=1)
    age(half_written, (ABANDONED + dt.timedelta(minutes=1)).total_seconds())
    [run] = backups_run_due(now=later)
    assert run.redone and run.verified and not run.error
    assert dt.datetime.fromisoformat(run.slot).timestamp() == schedule.last_slot.timestamp()
    [backup] = Backup.objects.all()
    assert backup.kind == "scheduled" and backup.verified_at and backup.verification_error == ""
    assert backup.sessions == 20_000 and backup.pk == run.backup_id
    assert [path.name for path in folder.iterdir()] == [Path(backup.path).name]  # no stray file
    slot = schedule.last_slot
    schedule.refresh_from_db()
    assert (schedule.failure, schedule.claimed_at, schedule.last_slot) == ("", None, slot)
    assert backups_run_due(now=later + dt.timedelta(hours=1)) == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "started_ago, made", [(ABANDONED + dt.timedelta(minutes=1), 1), (dt.timedelta(minutes=30), 0)],
    ids=["abandoned: made again once", "in progress: left to run"],
)  # fmt: skip
def test_two_runners_at_once_after_a_run_that_never_finished(owner, tmp_path, settings, started_ago, made):
    from ..processes import finished_json, manage

    settings.PLUGTRACK_DATA_DIR = tmp_path / "data"
    schedule = far_from_any_slot(owner)
    started = timezone.now() - started_ago  # what a run killed then left
    slot = schedules.schedule_slot(schedule, timezone.now())
    BackupSchedule.objects.update(last_slot=slot, claimed_at=started, failed_at=started, failure="started and …")
    runners = [manage("backups_run_due", "--json", data_dir=settings.PLUGTRACK_DATA_DIR) for _ in range(2)]
    results = [finished_json(runner) for runner in runners]
    assert [code for code, _ in results] == [0, 0]
    runs = [run for _, report in results for run in report["runs"]]
    assert len(runs) == made and all(run["redone"] and run["verified"] for run in runs)
    assert Backup.objects.filter(kind="scheduled").count() == made
    schedule.refresh_from_db()
    assert schedule.claimed_at == (None if made else started)
