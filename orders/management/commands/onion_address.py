from django.core.management.base import BaseCommand, CommandError

from sms4sats_site.onion import address_status


class Command(BaseCommand):
    help = (
        "Print the shop's onion address (ONION_ADDRESS, else the one the tor service wrote); "
        "say what to do when they differ or there is none."
    )

    def handle(self, *args, **options):
        status = address_status()
        address = status["served"] or status["written"]
        if status["advice"]:
            self.stderr.write(status["advice"])
        if not address:
            raise CommandError("no onion address (set ONION_ADDRESS, or start the tor service)")
        self.stdout.write(address)
