"""The alert log (read-only) and its "Send a test alert" button, on the shop's admin site."""

from datetime import UTC

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse

from sms4sats_site import audit

from .delivery import raise_alert, target_urls
from .models import AlertLog, Event

TEST_TITLE = "Test alert from the sms4sats shop"
TEST_BODY = "If you read this, the shop's alerts reach you here. Sent from the admin by {user}."


@admin.register(AlertLog)
class AlertLogAdmin(admin.ModelAdmin):
    list_display = ("when", "event", "title", "outcome", "short_error")
    list_filter = ("event", "result")
    search_fields = ("title", "body")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AlertLog._meta.fields]

    @admin.display(description="when", ordering="created_at")
    def when(self, entry):
        return entry.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    @admin.display(description="outcome", ordering="result")
    def outcome(self, entry):
        attempts = f"{entry.attempts} attempt{'s' if entry.attempts != 1 else ''}"
        return f"{entry.get_result_display()}: {entry.delivered} of {entry.targets} targets, {attempts}"

    @admin.display(description="error")
    def short_error(self, entry):
        return entry.error[:120]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        test = path("test/", self.admin_site.admin_view(self.test_alert_view), name="alerts_alertlog_test")
        return [test, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra = {"alert_targets": len(target_urls()), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def test_alert_view(self, request):
        """POST only (CSRF-checked like every admin POST): queue a test alert; its outcome shows in the log."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        if not target_urls():
            messages.error(
                request, "ALERT_URLS is empty: there is nowhere to send an alert (docs/operating.md, Alerts)."
            )
        else:
            with transaction.atomic():
                entry = raise_alert(Event.TEST, TEST_TITLE, TEST_BODY.format(user=request.user.get_username()))
            audit.record(request, entry, "Sent a test alert")
            messages.success(
                request,
                f"Test alert queued for {entry.targets} target{'s' if entry.targets != 1 else ''}: a worker sends it; "
                "reload this page to see the outcome.",
            )
        return HttpResponseRedirect(reverse("admin:alerts_alertlog_changelist"))
