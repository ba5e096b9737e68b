from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from plugtrack_site.admin_scoping import OwnedModelAdmin, sees_everything
from plugtrack_site.errors import PlugTrackError

from .forms import UserSettingsForm
from .models import Setting
from .petrol import pence_per_kwh_equivalence, petrol_pence_per_mile
from .sections import SECTIONS
from .services import UserSettings, settings_update, user_settings


def petrol_preview(settings: UserSettings) -> dict[str, str]:
    petrol_ppm = petrol_pence_per_mile(settings)
    equivalence = pence_per_kwh_equivalence(petrol_ppm, settings.default_efficiency_mpkwh)
    return {
        "petrol_ppm": f"{petrol_ppm:.2f}",
        "pkwh_equivalence": f"{equivalence:.1f}",
        "default_efficiency": f"{settings.default_efficiency_mpkwh:.1f}",
    }


@admin.register(Setting)
class SettingAdmin(OwnedModelAdmin):
    """Settings are edited one user at a time on a tabbed page; the list is an index of users."""

    list_display = ["user", "key", "shown_value", "settings_page"]
    list_filter = ["key"]
    list_select_related = ["user"]
    search_fields = ["user__username", "key"]

    @admin.display(description="value")
    def shown_value(self, setting):
        return "•••••• (encrypted)" if setting.encrypted else setting.value

    @admin.display(description="")
    def settings_page(self, setting):
        url = reverse("admin:settings_app_setting_user", args=[setting.user_id])
        return format_html('<a href="{}">Edit {}\'s settings</a>', url, setting.user)

    def has_add_permission(self, request):
        return False  # every key exists already: seeded for every user

    def has_delete_permission(self, request, obj=None):
        # An owner's settings are changed on their page, never deleted (each goes with its owner).
        return sees_everything(request) and super().has_delete_permission(request, obj)

    def history_view(self, request, object_id, extra_context=None):
        if not sees_everything(request):  # an owner's settings have one page, where each is changed
            return redirect("admin:settings_app_setting_user", request.user.pk)
        return super().history_view(request, object_id, extra_context)

    def get_urls(self):
        page = path(
            "user/<int:user_id>/",
            self.admin_site.admin_view(self.user_settings_view),
            name="settings_app_setting_user",
        )
        return [page, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        if not sees_everything(request):
            return redirect("admin:settings_app_setting_user", request.user.pk)
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        setting = get_object_or_404(self.get_queryset(request), pk=object_id)
        return redirect("admin:settings_app_setting_user", setting.user_id)

    def user_settings_view(self, request, user_id: int):
        if not (sees_everything(request) or request.user.pk == user_id):
            raise PermissionDenied
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        owner = get_object_or_404(User, pk=user_id)
        can_change = self.has_change_permission(request)
        acting = next((section for section in SECTIONS.values() if request.POST.get(section.action)), None)
        if request.method == "POST" and acting is not None:  # a section's own form (settings_app/sections.py)
            if not can_change:
                raise PermissionDenied
            try:
                messages.success(request, acting.act(request=request, owner=owner))
            except PlugTrackError as error:
                messages.error(request, str(error))
            return redirect("admin:settings_app_setting_user", owner.pk)

        stored = {setting.key: setting for setting in Setting.objects.filter(user=owner)}
        form = UserSettingsForm(request.POST or None, stored=stored)

        if request.method == "POST" and can_change and form.is_valid():
            try:
                settings_update(user=owner, values=form.values())
            except PlugTrackError as error:
                messages.error(request, str(error))
            else:
                messages.success(request, "Settings saved.")
                return redirect("admin:settings_app_setting_user", owner.pk)

        context = {
            **self.admin_site.each_context(request),
            "title": f"Settings of {owner}",
            "opts": self.model._meta,
            "owner": owner,
            "form": form,
            "can_change": can_change,
            "preview": petrol_preview(user_settings(user=owner)),
            "sections": [
                (section.template_name, section.context(request=request, owner=owner)) for section in SECTIONS.values()
            ],
        }
        return TemplateResponse(request, "admin/settings_app/user_settings.html", context)
