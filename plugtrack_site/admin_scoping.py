"""Admin behaviour shared by every PlugTrack model: scoping (a staff user who is not a superuser
sees, chooses and edits only rows they own; superusers see everything), and the parts of Django's
pages that would otherwise grow with an owner's history (the row checkbox, delete confirmations)."""

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.db.models import CASCADE, Count, DecimalField
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext

from .account_lock import account_write_lock
from .widgets import DecimalInput

# A delete's confirmation page names this many rows; the rest are counted.
NAMED_ON_DELETE = 100


def sees_everything(request: HttpRequest) -> bool:
    return request.user.is_superuser


# Every admin form's decimals as a person writes them: 24.5, not 24.5000 (inlines too).
DECIMALS_AS_WRITTEN = {DecimalField: {"widget": DecimalInput}}


class OwnedModelAdmin(admin.ModelAdmin):
    """For models with a `user` owner. The owner is set from the request for non-superusers."""

    # Foreign keys to other owned models, whose choices are limited to the request user's rows.
    owned_foreign_keys: tuple[str, ...] = ()
    formfield_overrides = DECIMALS_AS_WRITTEN

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A save is checked (natural keys, duplicates) and written under the owner's write lock, so
        an import committing the same key in between cannot turn the check stale."""
        owner_id = request.user.pk if not sees_everything(request) else self._owner_id(request, object_id)
        if request.method != "POST" or owner_id is None:  # a superuser's new row: owner not known yet
            return super().changeform_view(request, object_id, form_url, extra_context)
        with account_write_lock(owner_id):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def action_checkbox(self, obj):
        """Django's row checkbox, the same HTML written directly: Django renders it through the form
        widget templates, a quarter of the time of a list page of 100 rows."""
        label = format_html(gettext("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            ACTION_CHECKBOX_NAME, obj.pk, label,
        )  # fmt: skip

    def get_deleted_objects(self, objs, request):
        """What a delete takes with it, for its confirmation page: each row named, and the rows that
        go with it counted by kind, instead of Django's list of every one of them (for a car of
        51,336 sessions that took 7 s to build, a 6.7 MB page, and as long again to delete). As
        Django does, a kind the person may not delete is named in `perms_needed`."""
        opts = self.model._meta
        if any(relation.on_delete is not CASCADE for relation in opts.related_objects if relation.on_delete):
            return super().get_deleted_objects(objs, request)  # protected rows: Django's full check
        objs = list(objs)
        model_count = {opts.verbose_name_plural: len(objs)}
        perms_needed, going_with = set(), {obj.pk: [] for obj in objs}
        for relation in opts.related_objects:
            # A kind of row kept apart from the admin (a car's month totals) goes unasked, as in Django.
            if relation.on_delete is not CASCADE or not self.admin_site.is_registered(relation.related_model):
                continue
            related = relation.related_model._meta
            counts = relation.related_model._default_manager.filter(**{f"{relation.field.name}__in": objs})
            total = 0
            for owner_pk, count in counts.values_list(relation.field.name).annotate(count=Count("pk")).order_by():
                going_with[owner_pk].append(
                    f"{count:,} {related.verbose_name if count == 1 else related.verbose_name_plural}"
                )
                total += count
            if total:
                model_count[related.verbose_name_plural] = total
                if not self.admin_site.get_model_admin(relation.related_model).has_delete_permission(request):
                    perms_needed.add(related.verbose_name)
        deleted_objects = []
        for obj in objs[:NAMED_ON_DELETE]:
            deleted_objects.append(f"{capfirst(opts.verbose_name)}: {obj}")
            if going_with[obj.pk]:
                deleted_objects.append(going_with[obj.pk])
        if len(objs) > NAMED_ON_DELETE:
            deleted_objects.append(f"… and {len(objs) - NAMED_ON_DELETE:,} more {opts.verbose_name_plural}")
        return deleted_objects, model_count, perms_needed, []

    def _owner_id(self, request, object_id: str | None) -> int | None:
        row = self.get_object(request, unquote(object_id)) if object_id else None
        return row.user_id if row else None

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if sees_everything(request) else queryset.filter(user=request.user)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        # An owner is for life: moving a row between users would strand the rows that hang off it.
        if obj is not None and sees_everything(request) and "user" not in self.get_exclude(request, obj):
            readonly.append("user")
        return readonly

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        return exclude if sees_everything(request) else [*exclude, "user"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if self.fieldsets and sees_everything(request) and "user" not in self.get_exclude(request, obj):
            fieldsets = [(None, {"fields": ["user"]}), *fieldsets]
        return fieldsets

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if sees_everything(request):
            return form
        owner = request.user

        class OwnedForm(form):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                # Set before validation, so checks that involve the owner (natural keys) see it.
                if self.instance.user_id is None:
                    self.instance.user = owner

        return OwnedForm

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.owned_foreign_keys and not sees_everything(request):
            kwargs["queryset"] = db_field.related_model.objects.filter(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
