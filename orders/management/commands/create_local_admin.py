import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "In sandbox mode, create a local admin on first run and print its password once."

    def handle(self, *args, **options):
        if not settings.SANDBOX:
            return
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "Admin: log in at /admin/ with the account created on first run "
                "(reset it with: .venv/bin/python manage.py changepassword admin)."
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "", password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created a local admin for the sandbox. Log in at {settings.PUBLIC_BASE_URL}/admin/ "
                f"as 'admin' with password: {password}  (shown once)"
            )
        )
