"""Blank the personal data of old orders: the number and code received, the SMS's destination and message,
the browser session that placed the order, and the upstream answers recorded in the order's timeline
(they repeat the number and the code). What the operator's figures need stays: kind, status, country,
service, prices, times.

    python manage.py purge_personal_data [--older-than-days N] [--dry-run]

N defaults to settings.PERSONAL_DATA_RETENTION_DAYS (90). Only orders in a final state are touched; run it
daily (cron, a scheduled container) to keep the promise docs/operating.md ("Privacy") makes.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orders.models import OrderEvent
from orders.privacy import PERSONAL_FIELDS, old_orders, purge


class Command(BaseCommand):
    help = "Blank numbers, codes, phone numbers and messages of orders older than N days."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=None,
            help="age in days (default: settings.PERSONAL_DATA_RETENTION_DAYS)",
        )
        parser.add_argument("--dry-run", action="store_true", help="only count what would be purged")

    def handle(self, *args, older_than_days=None, dry_run=False, **options):
        days = settings.PERSONAL_DATA_RETENTION_DAYS if older_than_days is None else older_than_days
        if days < 0:
            raise CommandError("--older-than-days must be 0 or more")
        if dry_run:
            orders = old_orders(days)
            count = orders.exclude(**PERSONAL_FIELDS).count()
            events = OrderEvent.objects.filter(order__in=orders, upstream__isnull=False).count()
            self.stdout.write(f"Would purge {count} orders and {events} upstream snapshots older than {days} days.")
            return
        changed, events = purge(days)
        self.stdout.write(
            f"Purged the personal data of {changed} orders and {events} upstream snapshots older than {days} days."
        )
