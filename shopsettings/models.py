"""The operator's settings as typed on the admin's settings page (one row per setting set there), and the history
of their changes. The shop reads them through ``shopsettings.runtime.get``."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class StoredSetting(models.Model):
    # The environment variable's name (sms4sats_site/setting_checks.py CHECKS) and its text, as the
    # environment would hold it: the same check reads both.
    name = models.CharField(max_length=40, primary_key=True)
    value = models.TextField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "setting"
        verbose_name_plural = "settings"

    def __str__(self):
        return self.name


class SettingChange(models.Model):
    """Who changed what, when. A secret's old and new values are never kept: only "set", "changed", "cleared"."""

    changed_at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    username = models.CharField(max_length=150)  # kept when the account is deleted
    name = models.CharField(max_length=40)
    old = models.TextField(blank=True)
    new = models.TextField(blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        return f"{self.name} by {self.username}"
