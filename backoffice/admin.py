"""The operator's admin: order history, timelines, lifecycle actions, CSV export.

The site itself (dashboard, prepaid account, throttled login) is ``backoffice.admin_site.ShopAdminSite``.
"""

import csv
import json
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Case, CharField, DurationField, Max, Q, QuerySet, Value, When
from django.db.models.functions import Substr
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from orders import lifecycle
from orders.fiat import fiat_value
from orders.models import Kind, Order, OrderEvent, format_duration
from orders.sms4sats.contract import clean_reason, written_out
from shopsettings import runtime
from sms4sats_site import audit

from .admin_views import buyer_page_url, replacement_under_way
from .stats import (
    PAID_WITH,
    PAID_WITH_LABELS,
    charged_q,
    earns_referral_q,
    paid_with,
    price_sats,
    referral_sats,
    to_code_duration,
)

# --- Pagination that stays quick on large tables --------------------------------------------------

ESTIMATE_ABOVE = 50_000


class FastCountPaginator(Paginator):
    """Counts exactly, except for the unfiltered list on PostgreSQL, where the planner's estimate of
    the table size (``pg_class.reltuples``) replaces a full ``COUNT(*)`` once the table is large.
    SQLite counts an index (cheap at 100k rows); filtered lists count what the filter matches."""

    @cached_property
    def count(self):
        qs = self.object_list
        if connection.vendor == "postgresql" and hasattr(qs, "query") and not qs.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [qs.model._meta.db_table]
                )
                row = cursor.fetchone()
            if row and row[0] and row[0] > ESTIMATE_ABOVE:
                return int(row[0])
        return super().count


class OrderListQuerySet(QuerySet):
    """The admin list's queryset. On SQLite, the date hierarchy's ``datetimes()`` reads the year,
    month or day straight from the stored UTC text (native, index-only) instead of Django's
    per-row Python truncation, which takes seconds on 100k rows."""

    PREFIX = {"year": 4, "month": 7, "day": 10}

    def datetimes(self, field_name, kind, order="ASC", tzinfo=None):
        if connection.vendor != "sqlite" or kind not in self.PREFIX or settings.TIME_ZONE != "UTC" or tzinfo:
            return super().datetimes(field_name, kind, order, tzinfo)
        prefix = (
            self.order_by()
            .annotate(date_prefix=Substr(field_name, 1, self.PREFIX[kind]))
            .values_list("date_prefix", flat=True)
            .distinct()
            .order_by("date_prefix" if order == "ASC" else "-date_prefix")
        )
        return [self._parse(value, kind) for value in prefix if value]

    @staticmethod
    def _parse(value, kind):
        parts = [int(part) for part in value.split("-")] + [1, 1]
        return datetime(parts[0], parts[1], parts[2], tzinfo=UTC)


# --- Filters ---------------------------------------------------------------------------------------


def _country_names():
    from orders.catalog import bundled_country_rows

    names = {}
    for entry in bundled_country_rows():
        names.setdefault(int(entry["cc"]), entry["country"])
    return names


class CountryFilter(admin.SimpleListFilter):
    title = "country"
    parameter_name = "country"

    def lookups(self, request, model_admin):
        # DISTINCT over the country index; names from the provider's list (one query, no group-by).
        codes = Order.objects.exclude(country_code=None).order_by("country_code").values_list("country_code", flat=True)
        names = _country_names()
        return [(str(cc), f"{names.get(cc, 'Country')} ({cc})") for cc in codes.distinct()]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        try:
            return queryset.filter(country_code=int(value))
        except ValueError:
            return queryset.none()


class ServiceFilter(admin.SimpleListFilter):
    title = "service"
    parameter_name = "service"

    def lookups(self, request, model_admin):
        # One row per code (its index), with the name sms4sats gave it; by name, the code beside it.
        rows = (
            Order.objects.exclude(service_code="")
            .order_by()
            .values("service_code")
            .annotate(name=Max("service_name"))
            .values_list("service_code", "name")
        )
        labelled = [(code, f"{name} ({code})" if name and name != code else code) for code, name in rows]
        return sorted(labelled, key=lambda item: item[1].casefold())

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value is None else queryset.filter(service_code=value)


class PaidWithFilter(admin.SimpleListFilter):
    """Who paid: the buyer's invoice or the prepaid balance (stats.PAID_WITH, the dashboard's split)."""

    title = "paid with"
    parameter_name = "paid_with"

    def lookups(self, request, model_admin):
        return list(PAID_WITH_LABELS.items())

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(PAID_WITH[value]) if value in PAID_WITH else queryset.none()


# --- Times to the second ---------------------------------------------------------------------------


def to_the_second(value):
    """A moment as the operator compares it with logs and sms4sats' answers: UTC, to the second."""
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def time_column(field, label):
    """A read-only display of the order's ``field`` to the second (Django's own shows minutes only)."""

    @admin.display(description=label, ordering=field)
    def show(model_admin, obj):
        return to_the_second(getattr(obj, field))

    return show


class CreatedRangeFilter(admin.ListFilter):
    """Orders created from one UTC date to another, both included (``created_from``, ``created_to``: GET
    parameters, YYYY-MM-DD). A date that cannot be read, or a range that ends before it starts, is said in a
    message and not applied."""

    title = "created between (UTC dates)"
    template = "admin/orders/created_range_filter.html"
    parameters = ("created_from", "created_to")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.raw = {name: params.pop(name)[-1].strip() for name in self.parameters if name in params}
        self.dates = {}
        for name, raw in self.raw.items():
            if not raw:
                continue
            try:
                self.dates[name] = date.fromisoformat(raw)
            except ValueError:
                label = "from" if name == "created_from" else "to"
                messages.error(
                    request, f"The date “{raw}” ({label}) is not a date like 2025-03-31: it was not applied."
                )
        start, end = self.dates.get("created_from"), self.dates.get("created_to")
        if start and end and start > end:
            messages.error(request, f"The range ends ({end}) before it starts ({start}): it was not applied.")
            self.dates = {}

    def has_output(self):
        return True

    def expected_parameters(self):
        return list(self.parameters)

    def queryset(self, request, queryset):
        start, end = self.dates.get("created_from"), self.dates.get("created_to")
        if start:
            queryset = queryset.filter(created_at__gte=datetime.combine(start, time.min, tzinfo=UTC))
        if end and end < date.max:
            queryset = queryset.filter(created_at__lt=datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC))
        return queryset

    def choices(self, changelist):
        # One "choice": what the template's small form needs (its values, the other filters to keep, a reset).
        keep = changelist.get_query_string(remove=self.parameters)
        yield {
            "created_from": self.raw.get("created_from", ""),
            "created_to": self.raw.get("created_to", ""),
            "hidden": [
                (name, value)
                for name, values in changelist.filter_params.items()
                if name not in self.parameters
                for value in values
            ],
            "reset_url": keep,
            "active": bool(self.dates),
        }


# --- Timeline inline -------------------------------------------------------------------------------


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    verbose_name = "event"
    verbose_name_plural = "timeline"
    fields = ("time", "transition", "note", "upstream_answer")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ("at", "id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    time = time_column("at", "time (UTC)")

    @admin.display(description="from → to")
    def transition(self, event):
        if event.from_status == event.to_status:
            return f"{event.to_status} (no change)"
        return f"{event.from_status or '—'} → {event.to_status}"

    @admin.display(description="upstream answer")
    def upstream_answer(self, event):
        if event.upstream in (None, "", {}, []):
            return "—"
        text = json.dumps(event.upstream, indent=2, sort_keys=True, ensure_ascii=False, default=str)
        # A bidi override or a zero-width character in an answer is shown as its escape, not obeyed.
        text = written_out(text, keep="\n ")
        # Wrapped anywhere (change_form.html): an invoice is one 300-character word.
        return format_html('<pre class="upstream-json">{}</pre>', text)


# --- CSV export ------------------------------------------------------------------------------------

CSV_COLUMNS = [
    ("public_id", "public_id"),
    ("kind", "kind"),
    ("status", "status"),
    ("refund_reason", "refund_reason"),
    ("sms_status", "sms_status"),
    ("country_code", "country_code"),
    ("country_name", "country_name"),
    ("service_code", "service_code"),
    ("service_name", "service_name"),
    ("number", "number"),
    ("destination_phone", "phone"),
    ("quoted_sats", "quoted_sats"),
    ("invoice_sats", "invoice_sats"),
    ("upstream_id", "upstream_id"),
    ("created_at", "created_at"),
    ("paid_at", "paid_at"),
    ("completed_at", "completed_at"),
    ("refunded_at", "refunded_at"),
    ("seconds_to_code", "to_code"),
    # The books (stats.py counts them the same way): who paid, what sms4sats charged, the referral it earned.
    ("paid_with", "csv_paid_with"),
    ("charged_sats", "csv_charged"),
    ("referral_sats", "csv_referral"),
    # The sats charged in the books' currency at the rate stored when the order was paid (orders/fiat.py).
    ("fiat_currency", "fiat_currency"),
    ("fiat_rate", "fiat_rate"),
    ("fiat_value", "csv_fiat_value"),
]
# The columns the totals lines add up.
CSV_SUMS = ("csv_charged", "csv_referral", "csv_fiat_value")
CSV_CHUNK = 2000
_FORMULA_START = re.compile(r"^[=@\t\r]|^[+-](?![\d.]+$)")  # "+4915…" stays a phone number


class _Echo:
    def write(self, value):
        return value


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, timedelta):
        return f"{value.total_seconds():.0f}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    # Spreadsheets run cells that start like a formula: neutralise those (upstream text, names).
    return "'" + text if _FORMULA_START.match(text) else text


def _csv_books(queryset):
    """The books' columns as annotations: paid with, the sats charged, the referral earned (stats.py's rules)."""
    zero = Value(0)
    return queryset.annotate(
        to_code=_to_code_annotation(),
        csv_paid_with=Case(
            When(kind=Kind.FUND, then=Value("")),
            When(paid_from_balance=True, then=Value("balance")),
            default=Value("invoice"),
        ),
        csv_charged=Case(When(charged_q(), then=price_sats()), default=zero),
        csv_referral=Case(When(earns_referral_q(), then=referral_sats()), default=zero)
        if runtime.get("SMS4SATS_REF")
        else Value(None, output_field=CharField()),
    )


def csv_rows(queryset):
    """The header, one row per order, then a totals line per "paid with" (fund orders apart) and one for all:
    each adds up the charged sats, the referral and the fiat value (when every row of it is in one currency)."""
    writer = csv.writer(_Echo())
    yield writer.writerow([name for name, _ in CSV_COLUMNS])
    fields = [field for _, field in CSV_COLUMNS]
    index = {field: i for i, field in enumerate(fields)}
    read = [field for field in fields if field != "csv_fiat_value"]
    totals = {}
    for values in _csv_books(queryset).values_list(*read).iterator(chunk_size=CSV_CHUNK):
        row = dict(zip(read, values, strict=True))
        row["csv_fiat_value"] = _fiat_of(row)
        for key in (row["csv_paid_with"] or "fund", "all"):
            _add_up(totals.setdefault(key, {"orders": 0, "currencies": set()}), row)
        yield writer.writerow([_csv_cell(row[field]) for field in fields])
    for key in ("invoice", "balance", "fund", "all"):
        if key in totals:
            yield writer.writerow(_totals_line(key, totals[key], index))


def _fiat_of(row):
    """The sats charged, in the books' currency at the rate stored when the order was paid (a refund: zero); None
    when no rate was stored."""
    return fiat_value(row["csv_charged"], Order(fiat_rate=row["fiat_rate"], fiat_currency=row["fiat_currency"]))


def _add_up(total, row):
    total["orders"] += 1
    for field in CSV_SUMS:
        if row[field] is not None:
            total[field] = total.get(field, 0) + row[field]
    if row["csv_fiat_value"] is not None:
        total["currencies"].add(row["fiat_currency"])


def _totals_line(key, total, index):
    line = [""] * len(index)
    line[0] = f"TOTAL {PAID_WITH_LABELS.get(key, key)}" if key != "all" else "TOTAL all"
    line[index["status"]] = f"{total['orders']} orders"
    line[index["csv_paid_with"]] = "" if key in ("all", "fund") else key
    for field in CSV_SUMS:
        line[index[field]] = _csv_cell(total.get(field))
    if len(total["currencies"]) == 1:
        line[index["fiat_currency"]] = next(iter(total["currencies"]))
    else:  # no sum of amounts in different currencies
        line[index["csv_fiat_value"]] = ""
    return line


def csv_response(queryset):
    """``queryset`` as a CSV download, newest first, streamed in chunks (never held in memory)."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(csv_rows(queryset.order_by("-created_at", "-id")), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="orders-{stamp}.csv"'
    return response


def _to_code_annotation():
    return Case(When(kind__in=(Kind.RECEIVE, Kind.RENTAL), then=to_code_duration()), output_field=DurationField())


def cancel_outcome(order):
    """What a cancel does with whose money, in the operator's words."""
    price = order.invoice_sats if order.invoice_sats is not None else order.quoted_sats
    if order.paid_from_balance:
        return f"the {price:,} sats taken from your prepaid balance go back to the balance (no buyer paid for it)"
    return f"the buyer's held payment of {price:,} sats goes back to the buyer's wallet; nothing is charged"


# --- The order admin -------------------------------------------------------------------------------

UUID_IN_TEXT = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
MAX_REFRESH = 50


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "short_id",
        "kind_code",
        "status",
        "country",
        "service",
        "price",
        "paid_with_short",
        "created",
        "time_to_code",
        "rental",
    )
    list_filter = (
        "status",
        "kind",
        PaidWithFilter,
        CountryFilter,
        ServiceFilter,
        CreatedRangeFilter,
        ("created_at", admin.DateFieldListFilter),
        "refund_reason",
    )
    search_fields = ("=upstream_id", "number", "phone")
    search_help_text = "Public id (or the buyer's order URL), upstream order id, phone number or destination phone."
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    list_per_page = 50
    list_max_show_all = 500
    show_full_result_count = False
    paginator = FastCountPaginator
    inlines = (OrderEventInline,)
    actions = ("refresh_from_upstream", "cancel_upstream", "export_csv")
    fieldsets = (
        (
            "Order",
            {
                "fields": (
                    "public_id",
                    "buyer_page",
                    "kind",
                    "status",
                    "refund_reason",
                    "failure_reason",
                    "sms_status",
                    "replaces_link",
                    "replacements_links",
                )
            },
        ),
        (
            "What was ordered",
            {
                "fields": (
                    "country_code",
                    "country_name",
                    "service_code",
                    "service_name",
                    "phone",
                    "message",
                    "rental_weeks",
                )
            },
        ),
        (
            "Money",
            {"fields": ("paid_with", "quoted_sats", "invoice_sats", "bolt11", "payment_hash", "invoice_expires")},
        ),
        ("Upstream", {"fields": ("upstream_id", "number", "code_shown", "upstream_error_shown")}),
        (
            "Times",
            {
                "fields": (
                    "created_at_s",
                    "paid_at_s",
                    "number_at_s",
                    "completed_at_s",
                    "refunded_at_s",
                    "updated_at_s",
                    "time_to_code",
                )
            },
        ),
        ("Polling", {"fields": ("next_poll", "last_polled", "poll_failures")}),
    )
    # Times to the second (UTC), for the fieldsets above.
    created_at_s = time_column("created_at", "created")
    paid_at_s = time_column("paid_at", "paid")
    number_at_s = time_column("number_at", "number given")
    completed_at_s = time_column("completed_at", "completed")
    refunded_at_s = time_column("refunded_at", "refunded")
    updated_at_s = time_column("updated_at", "updated")
    invoice_expires = time_column("invoice_expires_at", "invoice expires")
    next_poll = time_column("next_poll_at", "next poll")
    last_polled = time_column("last_polled_at", "last polled")
    # The buyer's session key and the webhook secret are never shown.

    def get_readonly_fields(self, request, obj=None):
        return [field for fieldset in self.fieldsets for field in fieldset[1]["fields"]]

    def get_queryset(self, request):
        qs = super().get_queryset(request).annotate(price_sats=price_sats(), to_code=_to_code_annotation())
        qs.__class__ = OrderListQuerySet
        return qs

    # Orders come from buyers (and the account page's fund form): never added or deleted here.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # --- Columns ---

    @admin.display(description="code")
    def code_shown(self, order):
        """The code as the buyer sees it, and as sms4sats sent it when that differs (invisible characters)."""
        if not order.code or order.display_code == order.code:
            return order.code or "—"
        return f"{order.display_code} (as sent: {written_out(order.code)})"

    @admin.display(description="upstream error")
    def upstream_error_shown(self, order):
        return clean_reason(order.upstream_error) or "—"

    @admin.display(description="public id", ordering="public_id")
    def short_id(self, order):
        return format_html('<span title="{}">{}…</span>', order.public_id, order.public_id.hex[:8])

    @admin.display(description="kind", ordering="kind")
    def kind_code(self, order):
        return format_html('<span title="{}">{}</span>', order.get_kind_display(), order.kind)

    @admin.display(description="created (UTC)", ordering="created_at")
    def created(self, order):
        return order.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")

    @admin.display(description="country", ordering="country_code")
    def country(self, order):
        if order.kind == Kind.SEND and order.country_code is None:
            return f"to {order.phone}" if order.phone else "—"  # an SMS's destination, not "—"
        if order.country_code is None:
            return "—"
        return f"{order.country_name or 'Country'} ({order.country_code})"

    @admin.display(description="service", ordering="service_code")
    def service(self, order):
        if order.kind in (Kind.SEND, Kind.FUND):
            return order.what
        return order.service_name or order.service_code or "—"

    @admin.display(description="price (sats)", ordering="price_sats")
    def price(self, order):
        value = getattr(order, "price_sats", None)
        if value is None:
            value = order.invoice_sats if order.invoice_sats is not None else order.quoted_sats
        return "—" if value is None else intcomma(value)  # 12,545: grouped like the dashboard

    @admin.display(description="payment → code", ordering="to_code")
    def time_to_code(self, order):
        if hasattr(order, "to_code"):
            return format_duration(None if order.to_code is None else order.to_code.total_seconds())
        return format_duration(order.seconds_to_code)

    @admin.display(description="rental")
    def rental(self, order):
        """A rental's end date and how many SMS its inbox holds."""
        if order.kind != Kind.RENTAL or order.rental_ends_at is None:
            return "—"
        ends = order.rental_ends_at.astimezone(UTC).strftime("%Y-%m-%d")
        return f"until {ends} · {order.sms_count} SMS"

    def view_on_site(self, order):
        if order.kind == Kind.FUND:
            return reverse("admin:fund_order", args=[order.public_id])
        return order.get_absolute_url()

    @admin.display(description="buyer's page")
    def buyer_page(self, order):
        if order.kind == Kind.FUND:
            url = reverse("admin:fund_order", args=[order.public_id])
            return format_html('<a href="{}">the funding page (invoice and status)</a>', url)
        url = buyer_page_url(order)  # in full: the operator passes a balance order's page on to its buyer
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, url)

    @admin.display(description="paid with")
    def paid_with(self, order):
        if order.paid_from_balance:
            return "the prepaid balance (no invoice; the buyer pays nothing)"
        return "—" if order.kind == Kind.FUND else "the buyer's Lightning invoice"

    @admin.display(description="paid with", ordering="paid_from_balance")
    def paid_with_short(self, order):
        return "—" if order.kind == Kind.FUND else paid_with(order)

    @admin.display(description="replaces")
    def replaces_link(self, order):
        if order.replaces_id is None:
            return "—"
        url = reverse("admin:orders_order_change", args=[order.replaces_id])
        return format_html('<a href="{}">the order this one replaces</a>', url)

    @admin.display(description="replaced by")
    def replacements_links(self, order):
        replacements = list(order.replacements.order_by("created_at"))
        if not replacements:
            return "—"
        return format_html_join(
            ", ",
            '<a href="{}">{}… ({})</a>',
            (
                (reverse("admin:orders_order_change", args=[r.pk]), r.public_id.hex[:8], r.get_status_display())
                for r in replacements
            ),
        )

    # --- Search: exact public id (also inside a pasted URL), upstream id, phone numbers ---

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        found = UUID_IN_TEXT.search(term)
        if found:
            return queryset.filter(public_id=uuid.UUID(found.group(0))), False
        q = Q(upstream_id=term)  # unique index
        digits = re.sub(r"\D", "", term)
        if len(digits) >= 3 and re.fullmatch(r"[\d\s()+./-]+", term):  # a phone number, typed any way
            q |= Q(number__contains=digits) | Q(phone__contains=digits)
        if re.fullmatch(r"[0-9a-fA-F-]{6,35}", term):  # the start of a public id
            q |= Q(public_id__istartswith=term.lower())
        return queryset.filter(q), False

    # --- Read-only detail page ---

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context.update(
            title="Order" if obj is not None else context.get("title"),
            show_save=False,
            show_save_and_continue=False,
            show_save_and_add_another=False,
            show_delete=False,
            # Offered only where the engine's rules allow it (Order.cancel_opens_at / cancel_refusal,
            # Order.replacement_refusal): no Cancel or Replace on an order they cannot apply to.
            offer_cancel=obj is not None and obj.cancel_opens_at() is not None,
            can_cancel=obj is not None and obj.can_cancel(),
            cancel_allowed_at=obj.cancel_opens_at() if obj is not None else None,
            lifecycle_actions=obj is not None and self.has_change_permission(request, obj),
            can_replace=obj is not None and obj.replacement_refusal() is None and not replacement_under_way(obj),
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Orders", **(extra_context or {})})

    def save_model(self, request, obj, form, change):
        raise PermissionDenied("Orders change only through the lifecycle.")

    # --- Lifecycle actions (bulk on the list, buttons on the detail page) ---

    @admin.action(description="Refresh from upstream now", permissions=["change"])
    def refresh_from_upstream(self, request, queryset):
        orders = list(queryset.order_by("-created_at")[: MAX_REFRESH + 1])
        if len(orders) > MAX_REFRESH:
            self.message_user(request, f"Refresh at most {MAX_REFRESH} orders at a time.", messages.WARNING)
            return
        for order in orders:
            self._refresh_one(request, order)

    def _refresh_one(self, request, order):
        if not order.upstream_id:
            self.message_user(
                request, f"{order.public_id}: not created at sms4sats yet; nothing to refresh.", messages.WARNING
            )
            return
        before = order.status
        try:
            lifecycle.refresh(order)
        except Exception as exc:  # the lifecycle records upstream errors; anything else is shown, calmly
            self.message_user(
                request, f"{order.public_id}: refresh failed ({exc.__class__.__name__}: {exc})", messages.ERROR
            )
            return
        order.refresh_from_db()
        if order.status != before:
            text = f"{order.public_id}: refreshed, {before} → {order.status}."
        else:
            text = f"{order.public_id}: refreshed, still {order.status}."
        audit.record(request, order, f"Refreshed from sms4sats ({before} → {order.status})")
        if order.upstream_error:
            text += f" Last upstream error: {clean_reason(order.upstream_error)}"
        self.message_user(request, text, messages.SUCCESS)

    @admin.action(description="Cancel upstream (refund the buyer)", permissions=["change"])
    def cancel_upstream(self, request, queryset):
        orders = list(queryset.order_by("-created_at")[:MAX_REFRESH])
        if request.POST.get("post") != "yes":  # first the admin's intermediate page, as delete_selected's
            return self._confirm_cancel(request, orders, bulk=True)
        for order in orders:
            self._cancel_one(request, order)
        return None

    def _confirm_cancel(self, request, orders, bulk):
        """The page that says, order by order, whose money a cancel returns where, and which orders cannot be
        canceled (the engine's rule, Order.cancel_refusal); nothing is sent before its "Yes"."""
        rows = [(order, order.cancel_refusal(by="operator"), cancel_outcome(order)) for order in orders]
        context = {
            **self.admin_site.each_context(request),
            "title": "Cancel at sms4sats?",
            "opts": self.opts,
            "rows": rows,
            "cancelable": sum(1 for _, refusal, _ in rows if refusal is None),
            "bulk": bulk,
            "action_url": reverse("admin:orders_order_changelist")
            if bulk
            else reverse("admin:orders_order_cancel", args=[orders[0].pk]),
            "back_url": reverse("admin:orders_order_changelist")
            if bulk
            else reverse("admin:orders_order_change", args=[orders[0].pk]),
        }
        return TemplateResponse(request, "admin/orders/order/cancel_confirmation.html", context)

    def _cancel_one(self, request, order):
        try:
            lifecycle.request_cancel(order, by=audit.staff_name(request))
        except lifecycle.CancelRefused as exc:
            self.message_user(request, f"{order.public_id}: cancel refused. {exc}", messages.ERROR)
            return False
        audit.record(request, order, f"Asked sms4sats to cancel; once it confirms, {cancel_outcome(order)}")
        self.message_user(
            request,
            f"{order.public_id}: cancel requested; the order turns refunded once sms4sats confirms.",
            messages.SUCCESS,
        )
        return True

    @admin.action(description="Export as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        return csv_response(queryset)

    def export_view(self, request):
        """The list's "Export CSV" button: every order the list's filters, date range and search match (not
        only the page shown), streamed."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            self.message_user(request, "These filters cannot be applied: nothing was exported.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:orders_order_changelist"))
        return csv_response(changelist.queryset)

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<int:object_id>/refresh/", self.admin_site.admin_view(self.refresh_view), name=f"{prefix}_refresh"),
            path("<int:object_id>/cancel/", self.admin_site.admin_view(self.cancel_view), name=f"{prefix}_cancel"),
            path("export/", self.admin_site.admin_view(self.export_view), name=f"{prefix}_export"),
        ] + super().get_urls()

    def _action_target(self, request, object_id):
        if request.method != "POST":
            return None, HttpResponseNotAllowed(["POST"])
        order = get_object_or_404(Order, pk=object_id)
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        return order, None

    def _back(self, order):
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def refresh_view(self, request, object_id):
        order, refused = self._action_target(request, object_id)
        if refused:
            return refused
        self._refresh_one(request, order)
        return self._back(order)

    def cancel_view(self, request, object_id):
        """GET (or a POST without "post=yes"): the confirmation page; its "Yes" posts the cancel."""
        order = get_object_or_404(Order, pk=object_id)
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        if request.method != "POST" or request.POST.get("post") != "yes":
            return self._confirm_cancel(request, [order], bulk=False)
        self._cancel_one(request, order)
        return self._back(order)
