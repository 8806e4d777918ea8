"""The settings page's form: one field per setting, checked by the environment's checks, and its save (the rows,
the history, the new version for every process)."""

from django import forms
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sms4sats_site.setting_checks import parse_bool

from . import runtime
from .fields import BY_NAME, FIELDS
from .models import SettingChange, StoredSetting

FIXED_HELP = "Set in the environment: change it there and restart (it wins over this page)."


def as_text(value):
    """A setting's value as the environment would spell it (for the page's read-only fields)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return ",".join(value)
    return "" if value is None else str(value)


def default_text(name):
    return as_text(getattr(settings, name, ""))


class SettingsForm(forms.Form):
    def __init__(self, *args, stored, fixed, **kwargs):
        super().__init__(*args, **kwargs)
        self.stored, self.fixed = stored, fixed
        for field in FIELDS:
            self.fields[field.name] = self._form_field(field)
            if field.secret and field.name not in fixed and stored.get(field.name):
                self.fields[f"clear_{field.name}"] = forms.BooleanField(
                    required=False, label=f"Remove the saved {field.label}"
                )

    def _form_field(self, field):
        options = {"label": field.label, "required": False, "help_text": field.help}
        if field.name in self.fixed:
            shown = "(set, not shown)" if field.secret else default_text(field.name)
            return forms.CharField(disabled=True, initial=shown, **{**options, "help_text": FIXED_HELP})
        stored = self.stored.get(field.name, "")
        default = default_text(field.name)
        if field.kind == "bool":
            choices = [("", f"default ({default})"), ("true", "on"), ("false", "off")]
            return forms.ChoiceField(choices=choices, initial=_bool_choice(stored), **options)
        if field.secret:
            state = "One is saved; type a new one to replace it." if stored else "None saved."
            widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
            return forms.CharField(widget=widget, **{**options, "help_text": f"{field.help} {state}"})
        attrs = {"placeholder": f"default: {default}" if default else "not set"}
        widget = forms.Textarea(attrs={**attrs, "rows": 2}) if field.kind == "long" else forms.TextInput(attrs=attrs)
        return forms.CharField(widget=widget, initial=stored, strip=False, **options)

    def clean(self):
        cleaned = super().clean()
        for field in FIELDS:
            raw = cleaned.get(field.name) or ""
            if field.name in self.fixed or not raw.strip():
                continue
            try:
                field.check(raw)
            except ValueError as exc:  # the environment's one line, next to the field
                self.add_error(field.name, str(exc))
        return cleaned

    def new_values(self):
        """{name: text} for the settings the page may change ("" removes the saved value)."""
        values = {}
        for field in FIELDS:
            if field.name in self.fixed:
                continue
            typed = (self.cleaned_data.get(field.name) or "").strip()
            if field.secret:
                if self.cleaned_data.get(f"clear_{field.name}"):
                    typed = ""
                elif not typed:  # an empty password box keeps the saved key
                    typed = self.stored.get(field.name, "")
            values[field.name] = typed
        return values


def _bool_choice(stored):
    if not stored.strip():
        return ""
    return "true" if parse_bool(stored) else "false"


def save(form, user):
    """Save what changed, record who changed what, and have every process re-read; the names changed."""
    changed = []
    with transaction.atomic():
        current = dict(StoredSetting.objects.select_for_update().values_list("name", "value"))
        for name, new in form.new_values().items():
            old = current.get(name, "")
            if new == old:
                continue
            if new:
                StoredSetting.objects.update_or_create(name=name, defaults={"value": new, "updated_at": timezone.now()})
            else:
                StoredSetting.objects.filter(name=name).delete()
            SettingChange.objects.create(
                user=user, username=user.get_username(), name=name, **_recorded(name, old, new)
            )
            changed.append(name)
        if "SMS4SATS_REF" in changed:
            transaction.on_commit(_check_referral)
    if changed:  # committed: a new version for every process
        runtime.changed()
    return changed


def _recorded(name, old, new):
    if not BY_NAME[name].secret:
        return {"old": old, "new": new}
    # Never a secret's value in the history: only what happened to it.
    return {"old": "", "new": "cleared" if not new else "changed" if old else "set"}


def _check_referral():
    # The dashboard's checklist shows whether the new address resolves: check it now, not in 15 minutes.
    try:
        from celery import current_app

        # By name: the alerts app reads its settings from here, so this app does not import it back.
        current_app.send_task("alerts.tasks.check_referral")
    except Exception:  # the broker away: the periodic check does it
        pass
