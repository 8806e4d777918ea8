"""The settings page: every operator setting on one admin page (Shop settings › Settings), with its history."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from . import runtime
from .fields import FIELDS
from .forms import SettingsForm, save
from .models import SettingChange, StoredSetting

HISTORY_ROWS = 50


@admin.register(StoredSetting)
class SettingsPageAdmin(admin.ModelAdmin):
    """The model's change list is the settings page; its rows are only ever written by that page."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:shopsettings_storedsetting_changelist"))

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        fixed = runtime.from_environment()
        form = SettingsForm(request.POST or None, stored=runtime.stored_raw(), fixed=fixed)
        if request.method == "POST":
            if not self.has_change_permission(request):
                raise PermissionDenied
            if form.is_valid():
                changed = save(form, request.user)
                if changed:
                    messages.success(request, f"Saved: {', '.join(changed)}. Every process uses it within seconds.")
                else:
                    messages.info(request, "Nothing changed.")
                return HttpResponseRedirect(request.path)
        groups = {}
        for field in FIELDS:
            groups.setdefault(field.group, []).append(
                {
                    "field": form[field.name],
                    "fixed": field.name in fixed,
                    "name": field.name,
                    "clear": _clear(form, field),
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Settings",
            "opts": self.model._meta,
            "form": form,
            "groups": groups.items(),
            "can_change": self.has_change_permission(request),
            "history": SettingChange.objects.all()[:HISTORY_ROWS],
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/shopsettings/settings.html", context)


def _clear(form, field):
    name = f"clear_{field.name}"
    return form[name] if name in form.fields else None
