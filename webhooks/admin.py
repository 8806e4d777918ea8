"""Webhooks in the shop's admin: the endpoints (URL, secret, events), and the delivery log with a
"Redeliver" button (POST, CSRF) and action."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from sms4sats_site import audit, outbound

from .delivery import RedeliverRefused, redeliver
from .events import record_test_event
from .models import EVENT_MEANINGS, SUBSCRIBABLE, Attempt, Delivery, Endpoint

MAX_REDELIVER = 100


def to_the_second(moment):
    """A log's times: to the second, in UTC (the shop's time zone)."""
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment else "-"


class EndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=[(event.value, f"{event.value}: {EVENT_MEANINGS[event]}") for event in SUBSCRIBABLE],
        widget=forms.CheckboxSelectMultiple,
        help_text="The event types sent to this endpoint.",
    )

    class Meta:
        model = Endpoint
        fields = ["url", "description", "events", "active", "secret"]
        widgets = {"secret": forms.TextInput(attrs={"size": 60, "autocomplete": "off", "spellcheck": "false"})}

    def clean_url(self):
        # An endpoint at an internal service (cloud metadata, a database, Redis) would be POSTed to by the
        # workers; refused here next to the field, and again at each delivery after DNS.
        url = self.cleaned_data["url"]
        problem = outbound.url_problem(url)
        if problem:
            raise forms.ValidationError(f"Not an allowed webhook address: {problem}.")
        return url


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["url", "description", "active", "event_list", "created_at"]
    list_filter = ["active"]
    readonly_fields = ["previous_secret_signs"]
    actions = ["send_test_event", "rotate_secret"]

    @admin.display(description="events")
    def event_list(self, endpoint):
        return ", ".join(endpoint.events)

    @admin.display(description="previous secret")
    def previous_secret_signs(self, endpoint):
        if len(endpoint.signing_secrets()) < 2:
            return "none (only the secret above signs)"
        return f"also signs until {to_the_second(endpoint.previous_secret_until)} UTC (a rotation's overlap)"

    def save_model(self, request, obj, form, change):
        # A secret typed over the old one is a rotation: the old one keeps signing through the overlap.
        if change and "secret" in form.changed_data:
            obj.replace_secret(form.initial.get("secret", ""), obj.secret)
        super().save_model(request, obj, form, change)

    @admin.action(description="Send a test event to the selected endpoints")
    def send_test_event(self, request, queryset):
        for endpoint in queryset[:MAX_REDELIVER]:
            self._send_test(request, endpoint)

    @admin.action(description="Rotate the secret (the old one keeps signing through the overlap)")
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            endpoint.replace_secret(endpoint.secret)
            endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
            self.message_user(
                request,
                f"{endpoint}: new secret {endpoint.secret} (copy it to the receiver); the old one also signs until "
                f"{to_the_second(endpoint.previous_secret_until)} UTC.",
                messages.SUCCESS,
            )

    def _send_test(self, request, endpoint):
        if not endpoint.active:
            self.message_user(request, f"{endpoint}: not sent, the endpoint is inactive.", messages.ERROR)
            return None
        test = record_test_event(endpoint, request.user.get_username())
        url = reverse("admin:webhooks_delivery_change", args=[test.pk])
        self.message_user(
            request,
            format_html('{}: test event queued; <a href="{}">its delivery log</a> shows the answer.', endpoint, url),
            messages.SUCCESS,
        )
        return test

    def get_urls(self):
        view = self.admin_site.admin_view(self.test_event_view)
        return [path("<int:object_id>/test/", view, name="webhooks_endpoint_test")] + super().get_urls()

    def test_event_view(self, request, object_id):
        """The change page's "Send test event" button (POST, CSRF-checked)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        endpoint = get_object_or_404(Endpoint, pk=object_id)
        test = self._send_test(request, endpoint)
        if test is None:
            return HttpResponseRedirect(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]))
        return HttpResponseRedirect(reverse("admin:webhooks_delivery_change", args=[test.pk]))


class AttemptInline(admin.TabularInline):
    model = Attempt
    verbose_name = "attempt"
    verbose_name_plural = "delivery log"
    fields = ["number", "time", "status_code", "duration_ms", "error", "response_excerpt", "succeeded"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="time (UTC)")
    def time(self, attempt):
        return to_the_second(attempt.at)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    change_form_template = "admin/webhooks/delivery/change_form.html"
    # State, last status and error first: on a phone the rows stack (its change_list.html), all of them shown.
    list_display = [
        "created",
        "state",
        "last_status",
        "last_error",
        "event_type",
        "endpoint",
        "order_link",
        "attempts",
        "next_attempt",
    ]
    list_filter = ["state", "event__type", "endpoint"]
    search_fields = ["event__public_id", "event__order__public_id"]
    list_select_related = ["event", "event__order", "endpoint"]
    date_hierarchy = "created_at"
    actions = ["redeliver_selected"]
    fields = [
        "event_id",
        "event_type",
        "order_link",
        "endpoint",
        "state",
        "attempts",
        "next_attempt",
        "delivered",
        "created",
        "body",
    ]
    readonly_fields = fields
    inlines = [AttemptInline]

    def get_queryset(self, request):
        last = Attempt.objects.filter(delivery=OuterRef("pk")).order_by("-at", "-id")
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_status_code=Subquery(last.values("status_code")[:1]),
                last_error_text=Subquery(last.values("error")[:1]),
            )
        )

    @admin.display(description="last status")
    def last_status(self, delivery):
        code = getattr(delivery, "last_status_code", None)
        return code if code is not None else "-"

    @admin.display(description="last error")
    def last_error(self, delivery):
        return (getattr(delivery, "last_error_text", None) or "")[:160] or "-"

    @admin.display(description="created (UTC)", ordering="created_at")
    def created(self, delivery):
        return to_the_second(delivery.created_at)

    @admin.display(description="next attempt (UTC)", ordering="next_attempt_at")
    def next_attempt(self, delivery):
        return to_the_second(delivery.next_attempt_at)

    @admin.display(description="delivered (UTC)")
    def delivered(self, delivery):
        return to_the_second(delivery.delivered_at)

    @admin.display(description="event id")
    def event_id(self, delivery):
        return str(delivery.event.public_id)

    @admin.display(description="event", ordering="event__type")
    def event_type(self, delivery):
        return delivery.event.type

    @admin.display(description="order")
    def order_link(self, delivery):
        order = delivery.event.order
        if order is None:
            return "-"
        url = reverse("admin:orders_order_change", args=[order.pk])
        return format_html('<a href="{}" title="{}">{}…</a>', url, order.public_id, str(order.public_id)[:8])

    @admin.display(description="body")
    def body(self, delivery):
        pretty = json.dumps(json.loads(delivery.event.body), indent=2)
        return format_html('<pre class="webhook-body">{}</pre>', pretty)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the log is read-only; redelivering needs the change permission (may_redeliver)

    def may_redeliver(self, request):
        return request.user.has_perm("webhooks.change_delivery")

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.may_redeliver(request):
            actions.pop("redeliver_selected", None)
        return actions

    def render_change_form(self, request, context, *args, **kwargs):
        context["may_redeliver"] = self.may_redeliver(request)
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.action(description="Redeliver the selected deliveries")
    def redeliver_selected(self, request, queryset):
        if not self.may_redeliver(request):
            raise PermissionDenied
        chosen = list(queryset.select_related("event", "endpoint")[: MAX_REDELIVER + 1])
        if len(chosen) > MAX_REDELIVER:
            self.message_user(request, f"Redeliver at most {MAX_REDELIVER} at a time.", messages.WARNING)
            return
        for delivery in chosen:
            self._redeliver_one(request, delivery)

    def _redeliver_one(self, request, delivery):
        try:
            again = redeliver(delivery)
        except RedeliverRefused as exc:
            self.message_user(
                request, f"{delivery.event.type} {delivery.event.public_id}: not sent, {exc}.", messages.ERROR
            )
            return None
        what = f"Redelivered webhook {delivery.event.type} {delivery.event.public_id} to {delivery.endpoint}"
        audit.record(request, delivery, what)
        if delivery.event.order is not None:  # on the order's History too, where the operator looks
            audit.record(request, delivery.event.order, what)
        self.message_user(
            request,
            f"{delivery.event.type} {delivery.event.public_id}: queued again to {delivery.endpoint}.",
            messages.SUCCESS,
        )
        return again

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_redeliver"
        view = self.admin_site.admin_view(self.redeliver_view)
        return [path("<int:object_id>/redeliver/", view, name=name)] + super().get_urls()

    def redeliver_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.may_redeliver(request):
            raise PermissionDenied
        delivery = get_object_or_404(Delivery.objects.select_related("event", "endpoint"), pk=object_id)
        again = self._redeliver_one(request, delivery)
        target = again or delivery
        return HttpResponseRedirect(reverse("admin:webhooks_delivery_change", args=[target.pk]))
