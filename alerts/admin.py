"""The alert log (read-only) and its "Send a test alert" button, on the shop's admin site."""

from datetime import UTC

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from sms4sats_site import audit

from .delivery import notify, raise_alert, target_problem, target_urls
from .models import AlertLog, Event, NotificationRule, all_events

TEST_TITLE = "Test alert from the sms4sats shop"
TEST_BODY = "If you read this, the shop's alerts reach you here. Sent from the admin by {user}."


@admin.register(AlertLog)
class AlertLogAdmin(admin.ModelAdmin):
    list_display = ("when", "event", "title", "sent_to", "outcome", "short_error")
    list_filter = ("event", "result", "rule")
    list_select_related = ("rule",)
    search_fields = ("title", "body")
    date_hierarchy = "created_at"
    # The detail page's times to the second in UTC, like the list's (not Django's "Dec. 7, 2026, 6:48 a.m.").
    fields = ["when", "event", "title", "body", "sent_to", "outcome", "error", "finished"]
    readonly_fields = fields

    @admin.display(description="when", ordering="created_at")
    def when(self, entry):
        return entry.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    @admin.display(description="finished")
    def finished(self, entry):
        return entry.finished_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if entry.finished_at else "-"

    @admin.display(description="to")
    def sent_to(self, entry):
        return f"rule: {entry.rule}" if entry.rule_id else "ALERT_URLS"

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


# --- Notification rules ---------------------------------------------------------------------------------

RULE_TEST_TITLE = "Test notification from the sms4sats shop"
RULE_TEST_BODY = "If you read this, the rule '{rule}' reaches you here. Sent from the admin by {user}."
# Not chosen by a rule: the test and the cap's summary are about ALERT_URLS itself.
NOT_FOR_RULES = {Event.TEST, Event.SUPPRESSED}


class NotificationRuleForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=lambda: [(value, f"{value}: {label}") for value, label in all_events() if value not in NOT_FOR_RULES],
        widget=forms.CheckboxSelectMultiple,
        help_text="Order events (as webhooks name them) and alert events (a condition's start and end).",
    )

    class Meta:
        model = NotificationRule
        fields = ["name", "events", "urls", "active"]
        widgets = {"urls": forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocomplete": "off"})}

    def clean_urls(self):
        """Each URL must be one Apprise understands, and a json/form/xml one must not reach an internal service
        (checked again before each send). Errors number the URL, never repeat it: it holds secrets."""
        import apprise
        from apprise.utils.parse import parse_urls

        urls = parse_urls(self.cleaned_data["urls"])
        if not urls:
            raise forms.ValidationError("Give at least one Apprise URL.")
        problems = []
        for number, url in enumerate(urls, 1):
            if not apprise.Apprise().add(url):
                problems.append(f"URL {number}: Apprise does not understand it (check its scheme and parts)")
            elif problem := target_problem(url):
                problems.append(f"URL {number}: not an allowed address: {problem}")
        if problems:
            raise forms.ValidationError(problems)
        return self.cleaned_data["urls"]


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    form = NotificationRuleForm
    change_form_template = "admin/alerts/notificationrule/change_form.html"
    list_display = ("name", "event_list", "target_count", "active")
    list_filter = ("active",)
    actions = ["send_test"]

    @admin.display(description="events")
    def event_list(self, rule):
        return ", ".join(rule.events)

    @admin.display(description="targets")
    def target_count(self, rule):
        return len(rule.target_urls())  # the URLs hold secrets: counted, not shown

    @admin.action(description="Send a test notification to the selected rules' targets")
    def send_test(self, request, queryset):
        for rule in queryset:
            self._send_test(request, rule)

    def _send_test(self, request, rule):
        body = RULE_TEST_BODY.format(rule=rule, user=request.user.get_username())
        with transaction.atomic():
            [entry] = notify(Event.TEST, RULE_TEST_TITLE, body, rules=[rule])
        url = reverse("admin:alerts_alertlog_change", args=[entry.pk])
        self.message_user(
            request,
            format_html('{}: test notification queued; <a href="{}">the alert log</a> shows its outcome.', rule, url),
            messages.SUCCESS,
        )

    def get_urls(self):
        view = self.admin_site.admin_view(self.test_view)
        return [path("<int:object_id>/test/", view, name="alerts_notificationrule_test"), *super().get_urls()]

    def test_view(self, request, object_id):
        """The change page's "Send a test notification" button (POST, CSRF-checked)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        rule = get_object_or_404(NotificationRule, pk=object_id)
        self._send_test(request, rule)
        return HttpResponseRedirect(reverse("admin:alerts_notificationrule_change", args=[rule.pk]))
