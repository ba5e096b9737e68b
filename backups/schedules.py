"""Backups that happen by themselves: each owner's schedule (BackupSchedule), run when due, verified,
and pruned by the owner's retention policy.

A schedule has slots: every day at its hour, or every week on its weekday at its hour (this site's
time zone). `backups_run_due` makes one backup for the latest slot that has passed and has not
run yet, so a second call in the same period makes nothing, and slots missed while the server was
off are made up once, not one by one. The slot is claimed in one committed UPDATE before the
backup is written: two runners at once (cron and the worker) make one backup. Slots from before
the schedule was set (or last changed) are not made up.

A run killed midway (a deploy, the out-of-memory killer, a power cut) leaves its claim unfinished
(`claimed_at`). While it may still be running, nothing more is started for that owner; once it
is older than any run takes (BackupSchedule.RUN_ABANDONED_AFTER), the next run makes that slot
again: it takes the abandoned claim over in the same conditional UPDATE (so two runners at once
still make one backup), removes what the stopped run had recorded, and the folder's sweep removes
what it was writing.

Each scheduled backup is then verified: reopened, every member checked against the manifest's
checksum, and restored as a dry run (which writes nothing). A failed backup or verification is
kept on the schedule (and logged as an error) until a later one succeeds. Each run is told as an
event, `backup.verified` or `backup.failed` (plugtrack_site.events: the owner's webhook).

Then the backups are copied off the machine, when that is configured (offsite.py); a copy that
failed before is tried again.

Retention, grandfather-father-son: of the owner's scheduled backups, the newest of each of the
last `keep_daily` days, `keep_weekly` ISO weeks and `keep_monthly` months are kept, the others
deleted with their files. Manual backups and those written before a replace restore are never
pruned.
"""

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from django.contrib.auth.models import User
from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone

from plugtrack_site import events
from plugtrack_site.dates import moment_text
from plugtrack_site.errors import PlugTrackError
from plugtrack_site.events import event_on_commit
from settings_app import crypto

from .models import Backup, BackupSchedule
from .offsite import OffsiteSync, offsite_copies_delete, offsite_sync, offsite_sync_pending
from .services import RestoreOptions, backup_create, backup_restore, backups_delete, passphrase_check

logger = logging.getLogger("plugtrack.backups")


def schedule_slot(schedule: BackupSchedule, now: dt.datetime) -> dt.datetime | None:
    """The schedule's latest slot at or before `now` (None when it is off)."""
    if schedule.frequency == BackupSchedule.Frequency.OFF:
        return None
    local = timezone.localtime(now)
    # fold=0: on the night the clocks go back, the first of the two 01:00s (one backup, not two)
    slot = local.replace(hour=schedule.hour, minute=0, second=0, microsecond=0, fold=0)
    period = dt.timedelta(days=7 if schedule.frequency == BackupSchedule.Frequency.WEEKLY else 1)
    if schedule.frequency == BackupSchedule.Frequency.WEEKLY:
        slot -= dt.timedelta(days=(local.weekday() - schedule.weekday) % 7)
    if slot > local:
        slot -= period
    return slot


def schedule_due(schedule: BackupSchedule, now: dt.datetime) -> dt.datetime | None:
    """The slot to run now, if any: the latest passed, not run yet (or its run abandoned), and not from
    before the schedule was set; none while a run may still be going."""
    slot = schedule_slot(schedule, now)
    if slot is None or slot < schedule.active_since or schedule.run_in_progress(now):
        return None
    last = schedule.last_slot
    if last is not None and (slot < last or (_same_moment(slot, last) and not schedule.run_abandoned(now))):
        return None
    return slot


def _same_moment(slot: dt.datetime, other: dt.datetime) -> bool:
    """Whether two slots are the same moment. (`==` across time zones is never true for a time in the
    hour repeated the night the clocks go back, PEP 495: they are compared in UTC.)"""
    return slot.astimezone(dt.UTC) == other.astimezone(dt.UTC)


@dataclass
class ScheduledRun:
    user: str
    slot: str
    user_id: int = 0
    backup_id: int | None = None
    redone: bool = False  # made again: the run that started it was stopped before it finished
    path: str = ""
    encrypted: bool = False
    verified: bool = False
    pruned: int = 0
    offsite_copied: int = 0
    error: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def backups_run_due(*, now: dt.datetime | None = None) -> list[ScheduledRun]:
    """Make every owner's due backup (see the module's description); what each run did."""
    now = now or timezone.now()
    runs = []
    for schedule in BackupSchedule.objects.exclude(frequency=BackupSchedule.Frequency.OFF).select_related("user"):
        slot = schedule_due(schedule, now)
        if slot is None:
            continue
        interrupted = schedule.claimed_at if schedule.run_abandoned(now) else None
        redone = interrupted is not None and _same_moment(slot, schedule.last_slot)  # (else a later slot made up)
        if not _claimed(schedule, slot, now, redone=redone):
            continue
        if interrupted:
            logger.warning(
                "backup_scheduled_interrupted user=%s slot=%s started_at=%s",
                schedule.user.username, schedule.last_slot.isoformat(), interrupted.isoformat(),
            )  # fmt: skip
        try:
            runs.append(_run(schedule, slot, now, interrupted=interrupted, redone=redone))
        except Exception as error:  # noqa: BLE001 - one owner's unforeseen failure must not stop the others'
            logger.exception("backup_scheduled_crashed user=%s", schedule.user.username)
            message = f"{_named(slot, now, redone)} stopped unexpectedly ({type(error).__name__})."
            _said(schedule, now, message)
            _told(schedule, slot, redone, None, message)
            runs.append(
                ScheduledRun(
                    user=schedule.user.username, slot=slot.isoformat(), user_id=schedule.user_id, redone=redone,
                    error=message,
                )
            )  # fmt: skip
    return runs


def backups_run_due_and_copy(*, now: dt.datetime | None = None) -> tuple[list[ScheduledRun], dict[str, OffsiteSync]]:
    """What the worker's hourly run and `backups_run_due` do: the due backups, then every copy off
    the machine still to make (backups made by hand, copies that failed before)."""
    runs = backups_run_due(now=now)
    return runs, offsite_sync_pending(skip={run.user_id for run in runs})


def _claimed(schedule: BackupSchedule, slot: dt.datetime, now: dt.datetime, *, redone: bool) -> bool:
    """Take the slot in one committed UPDATE, only if the schedule is still as it was read: no other
    runner took it first (nor took over the abandoned run it was read with). `claimed_at` (now) is
    the claim's mark until the run says how it went, and the schedule says it started and did not
    finish: a process killed meanwhile (or a power cut) leaves that on the admin's pages, not
    silence, and its slot is made again once the claim is abandoned (`redone`: this is that run)."""
    unchanged = BackupSchedule.objects.filter(
        pk=schedule.pk, last_slot=schedule.last_slot, claimed_at=schedule.claimed_at
    )  # (None: IS NULL)
    if redone:
        unfinished = (
            f"The scheduled backup of {_local(slot)} was interrupted (PlugTrack was stopped while making it); it is "
            f"being made again since {_local(now)}."
        )
    else:
        hours = BackupSchedule.RUN_ABANDONED_AFTER / dt.timedelta(hours=1)
        unfinished = (
            f"The scheduled backup of {_local(slot)} started and has not finished yet; if this stays, PlugTrack was "
            f"stopped while making it, and it is made again {hours:g} hours after it started."
        )
    return unchanged.update(last_slot=slot, claimed_at=now, failed_at=now, failure=unfinished) == 1


def _run(
    schedule: BackupSchedule, slot: dt.datetime, now: dt.datetime, *, interrupted: dt.datetime | None, redone: bool
) -> ScheduledRun:
    """Make, verify, prune and copy the claimed slot's backup. `interrupted`: when the abandoned run this
    one took over started; `redone`: it was this slot's (else an earlier one's, which this one makes up for)."""
    run = ScheduledRun(
        user=schedule.user.username, slot=slot.isoformat(), user_id=schedule.user_id, encrypted=schedule.encrypt,
        redone=redone,
    )  # fmt: skip
    named = _named(slot, now, redone)
    try:
        if interrupted:
            _interrupted_backups_delete(schedule, interrupted)
        passphrase = crypto.decrypt(schedule.passphrase) if schedule.encrypt else None
        backup = backup_create(user=schedule.user, kind=Backup.Kind.SCHEDULED, passphrase=passphrase)
    except PlugTrackError as error:
        run.error = f"{named} could not be written: {error}"
        _said(schedule, now, run.error)
        _told(schedule, slot, redone, None, run.error)
        return run
    run.backup_id, run.path = backup.pk, backup.path
    problem = backup_verify(backup, passphrase)
    if problem:
        run.error = f"{named} failed its verification: {problem}"
        _said(schedule, now, run.error)
        _told(schedule, slot, redone, backup, run.error)
        return run
    run.verified = True
    _said(schedule, now, "")
    _told(schedule, slot, redone, backup, "")
    try:
        pruned = backups_prune(user=schedule.user)
    except (PlugTrackError, DatabaseError) as error:  # e.g. the account busy: pruned at the next run
        run.error = f"Old scheduled backups could not be deleted ({error}); they are at the next run."
        _said(schedule, now, run.error)
        pruned = []
    run.pruned = len(pruned)
    offsite = offsite_sync(schedule.user)  # this backup, and any whose copy failed before
    run.offsite_copied = offsite.copied
    if offsite.errors:  # (recorded on the backups, and shown from there until a copy succeeds)
        run.error = " ".join([run.error, *offsite.errors]).strip()
    logger.info("backup_scheduled user=%s slot=%s backup_id=%s pruned=%d", run.user, run.slot, backup.pk, run.pruned)
    return run


def _named(slot: dt.datetime, now: dt.datetime, redone: bool) -> str:
    made_again = f" (interrupted, and made again at {_local(now)})" if redone else ""
    return f"The scheduled backup of {_local(slot)}{made_again}"


def _local(moment: dt.datetime) -> str:
    return moment_text(moment)


def _said(schedule: BackupSchedule, now: dt.datetime, failure: str) -> None:
    """Record how the run that claimed its slot at `now` went ("": well), which finishes its claim.
    Never over another run's claim: one that outlived RUN_ABANDONED_AFTER, whose slot another run
    took over and is making again, leaves that run's word on the schedule."""
    own = BackupSchedule.objects.filter(Q(claimed_at=now) | Q(claimed_at=None), pk=schedule.pk)
    if not own.update(claimed_at=None, failed_at=now if failure else None, failure=failure):
        logger.warning("backup_scheduled_taken_over user=%s claimed_at=%s", schedule.user.username, now.isoformat())
    if failure:
        logger.error("backup_scheduled_failed user=%s message=%s", schedule.user.username, failure)


def _told(schedule: BackupSchedule, slot: dt.datetime, redone: bool, backup: Backup | None, failure: str) -> None:
    """Tell how the run went as an event (plugtrack_site.events): `backup.verified`, or `backup.failed`
    with what the schedule says (the backup, when one was written)."""
    data = {"slot": slot.isoformat(), "redone": redone, "backup": backup.event_data() if backup else None}
    if failure:
        event_on_commit(user=schedule.user_id, kind=events.BACKUP_FAILED, data={**data, "error": failure})
    else:
        event_on_commit(user=schedule.user_id, kind=events.BACKUP_VERIFIED, data=data)


def _interrupted_backups_delete(schedule: BackupSchedule, started: dt.datetime) -> None:
    """Delete the backups the interrupted run recorded (it was killed while verifying one): the slot's
    backup is the one made again, verified. (A file it was still writing has no record: the new
    backup's sweep of the folder removes it, an hour old by now.)"""
    left = list(Backup.objects.filter(user=schedule.user, kind=Backup.Kind.SCHEDULED, created_at__gte=started))
    if not left:
        return
    backups_delete(Backup.objects.filter(pk__in=[backup.pk for backup in left]))
    offsite_copies_delete([backup.offsite_name for backup in left if backup.offsite_name])
    logger.warning("backup_scheduled_interrupted_deleted user=%s count=%d", schedule.user.username, len(left))


def backup_verify(backup: Backup, passphrase: str | None) -> str:
    """Reopen the backup, check every member against its manifest checksum, and restore it as a dry
    run (nothing written); record the outcome on it. Returns what is wrong ("" when nothing)."""
    try:
        report = backup_restore(
            user=backup.user, source=backup.path, mode="merge",
            options=RestoreOptions(dry_run=True, passphrase=passphrase),
        )
        problem = "" if report.ok else "; ".join(report.notes) or "its dry-run restore found errors"
    except PlugTrackError as error:
        problem = str(error)
    Backup.objects.filter(pk=backup.pk).update(verified_at=timezone.now(), verification_error=problem)
    return problem


def retention_kept(backups: Iterable[Backup], *, daily: int, weekly: int, monthly: int) -> set[int]:
    """The ids a grandfather-father-son policy keeps of `backups` (newest first): one of each of the
    last `daily` days, `weekly` ISO weeks and `monthly` months that have any (the newest that passed
    its verification, else the newest), and the newest of all whatever the counts."""
    backups = list(backups)
    kept: set[int] = {backups[0].pk} if backups else set()
    periods: list[tuple[int, Callable[[dt.datetime], tuple]]] = [
        (daily, lambda when: (when.date(),)),
        (weekly, lambda when: when.isocalendar()[:2]),
        (monthly, lambda when: (when.year, when.month)),
    ]
    for count, period in periods:
        chosen: dict[tuple, Backup] = {}  # period → its backup, periods in order, newest first
        for backup in backups:
            key = period(timezone.localtime(backup.created_at))
            if key not in chosen:
                if len(chosen) == count:
                    break
                chosen[key] = backup
            elif chosen[key].verification_error and not backup.verification_error:
                chosen[key] = backup  # an older one of the period that was verified
        kept |= {backup.pk for backup in chosen.values()}
    return kept


def backups_prune(*, user: User | None = None, dry_run: bool = False) -> list[Backup]:
    """Apply each owner's retention policy to their scheduled backups (one owner's, or everyone's);
    the backups deleted (or, on a dry run, that would be)."""
    owners = [user] if user else User.objects.filter(backups__kind=Backup.Kind.SCHEDULED).distinct()
    doomed: list[Backup] = []
    for owner in owners:
        schedule = BackupSchedule.objects.filter(user=owner).first() or BackupSchedule(user=owner)
        scheduled = Backup.objects.filter(user=owner, kind=Backup.Kind.SCHEDULED).order_by("-created_at", "-id")
        kept = retention_kept(scheduled, daily=schedule.keep_daily, weekly=schedule.keep_weekly,
                              monthly=schedule.keep_monthly)  # fmt: skip
        doomed += [backup for backup in scheduled if backup.pk not in kept]
    if doomed and not dry_run:
        backups_delete(Backup.objects.filter(pk__in=[backup.pk for backup in doomed]))
        # Their copies off the machine go too: only those this PlugTrack made and no longer keeps.
        offsite_copies_delete([backup.offsite_name for backup in doomed if backup.offsite_name])
        logger.info("backups_pruned count=%d", len(doomed))
    return doomed


@dataclass(frozen=True)
class SchedulePlan:
    """When an owner's backups are made, whether encrypted, and how many of each age are kept."""

    frequency: str
    hour: int
    weekday: int
    encrypt: bool
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 12


def schedule_save(*, user: User, plan: SchedulePlan, passphrase: str | None = None) -> BackupSchedule:
    """Set the owner's schedule to `plan`. `passphrase` (for encrypted backups) is kept encrypted with
    the settings' keys; left out, the one saved before stays. A change of when it runs starts from
    now: slots before it are not made up."""
    frequency, hour, weekday, encrypt = plan.frequency, plan.hour, plan.weekday, plan.encrypt
    keep_daily, keep_weekly, keep_monthly = plan.keep_daily, plan.keep_weekly, plan.keep_monthly
    schedule = BackupSchedule.objects.filter(user=user).first() or BackupSchedule(user=user)
    if passphrase:
        passphrase_check(passphrase)
        schedule.passphrase = crypto.encrypt(passphrase)
    if encrypt and not schedule.passphrase:
        raise PlugTrackError("Encrypted scheduled backups need a passphrase: give it once, it is kept encrypted.")
    if keep_daily + keep_weekly + keep_monthly == 0:
        raise PlugTrackError("Keep at least one daily, weekly or monthly backup.")
    timing = (frequency, hour, weekday)
    if schedule.pk is None or timing != (schedule.frequency, schedule.hour, schedule.weekday):
        schedule.active_since = timezone.now()
    schedule.frequency, schedule.hour, schedule.weekday = timing
    schedule.encrypt, schedule.keep_daily, schedule.keep_weekly = encrypt, keep_daily, keep_weekly
    schedule.keep_monthly = keep_monthly
    schedule.full_clean(exclude=["user"])
    if schedule.pk is None:
        schedule.save()
        return schedule
    # Only what the person sets: a run finishing meanwhile keeps its slot and outcome.
    chosen = ["frequency", "hour", "weekday", "encrypt", "passphrase", "keep_daily", "keep_weekly", "keep_monthly",
              "active_since"]  # fmt: skip
    if frequency == BackupSchedule.Frequency.OFF:  # nothing more will run: a past failure is no longer news
        schedule.failure, schedule.failed_at = "", None
        chosen += ["failure", "failed_at"]
    schedule.save(update_fields=chosen)
    return schedule


def schedule_passphrases_reencrypt() -> list[tuple[str, str]]:
    """After the encryption keys are rotated (settings_app.keys_rotated): every schedule's
    passphrase under the newest key. Those no key can read are left, and returned (owner, what)
    for the rotation's report; their next run says so too."""
    unreadable = []
    for schedule in BackupSchedule.objects.exclude(passphrase="").select_related("user"):
        try:
            BackupSchedule.objects.filter(pk=schedule.pk).update(passphrase=crypto.reencrypt(schedule.passphrase))
        except crypto.EncryptionKeyError:
            logger.error("backup_schedule_passphrase_unreadable user=%s", schedule.user.username)
            unreadable.append((schedule.user.username, "scheduled backups' passphrase"))
    return unreadable
