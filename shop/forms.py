"""The buyer's forms. Each one checks its input against the catalog (never a price from the form) and
leaves, in ``cleaned_data``, what ``lifecycle.place_order`` needs, including the server-side price."""

import phonenumbers
from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from orders import catalog

MESSAGE_LIMIT = 140
COUNTRY_CODE_MAX = 99999  # sms4sats' country codes (cc) are small non-negative numbers


def country_field():
    """The country of a number order: sms4sats' country code, chosen from the list."""
    return forms.IntegerField(
        label=_("Country"),
        min_value=0,
        max_value=COUNTRY_CODE_MAX,
        error_messages={"required": _("Choose a country."), "invalid": _("Choose a country from the list.")},
    )


class CatalogForm(forms.Form):
    """Sets ``self.unavailable`` (a reason) instead of failing with a traceback when sms4sats is down."""

    unavailable = ""
    slow = False  # sms4sats is only slow: its answer is being read (a fragment asks again by itself)

    def catalog_error(self, exc, field=None):
        if isinstance(exc, catalog.CatalogUnavailable):
            self.slow = isinstance(exc, catalog.CatalogSlow)
            if not self.slow:  # only slow: the form says so, but it is not paused (nor reloads itself)
                self.unavailable = exc.reason
            raise forms.ValidationError(exc.reason, code="unavailable")
        if field:
            self.add_error(field, exc.reason)
        else:
            raise forms.ValidationError(exc.reason, code="not_offered")


class ReceiveForm(CatalogForm):
    country = country_field()
    service = forms.CharField(
        label=_("Service"),
        max_length=40,
        error_messages={"required": _("Choose a service."), "max_length": _("Choose a service from the list.")},
    )

    def clean_country(self):
        cc = self.cleaned_data["country"]
        country = catalog.find_country(cc)
        if country is None:
            raise forms.ValidationError(_("This country is not in the list. Choose one from the list."))
        self.country_entry = country
        return cc

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        cc, code = data["country"], data["service"]
        try:
            offer = catalog.find_service(cc, code)
            if offer is None:
                self.add_error("service", _("This service is not offered for this country. Choose one from the list."))
                return data
            if offer.count == 0:
                self.add_error(
                    "service", _("No numbers are available for this service right now. Try another country.")
                )
                return data
            data["price"] = catalog.receive_price(cc, code)
        except catalog.CatalogError as exc:
            self.catalog_error(exc, field="service")
            return data
        data["offer"] = offer
        data["country_name"] = self.country_entry.name
        return data


class RentForm(CatalogForm):
    country = country_field()

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            offer = catalog.find_rental(data["country"])
        except catalog.CatalogError as exc:
            self.catalog_error(exc, field="country")
            return data
        if offer is None:
            self.add_error("country", _("Rentals are not offered for this country. Choose one from the list."))
            return data
        data["offer"] = offer
        return data


def normalize_phone(raw):
    """The number in E.164 (``+4915123456789``), or a ValidationError with a message a buyer understands."""
    text = (raw or "").strip()
    if not text:
        raise forms.ValidationError(_("Enter the phone number to send the SMS to."))
    if len(text) > 32:
        raise forms.ValidationError(_("That is too long for a phone number."))
    compact = "".join(ch for ch in text if ch not in " -().\u00a0")
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not compact.startswith("+"):
        raise forms.ValidationError(
            _("Start with + and the country code, for example +44 7911 123456."), code="no_country_code"
        )
    try:
        number = phonenumbers.parse(compact, None)
    except phonenumbers.NumberParseException:
        raise forms.ValidationError(
            _("This is not a phone number. Use + and the country code, for example +44 7911 123456.")
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise forms.ValidationError(
            _("This number does not exist in its country's numbering plan. Check the digits and the country code.")
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class SendForm(CatalogForm):
    phone = forms.CharField(
        label=_("Phone number"),
        max_length=40,
        strip=True,
        error_messages={"max_length": _("That is too long for a phone number.")},
    )
    message = forms.CharField(
        label=_("Message"),
        max_length=MESSAGE_LIMIT,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": MESSAGE_LIMIT}),
        error_messages={
            "required": _("Write the message to send."),
            "max_length": ngettext_lazy(
                "The message is too long: at most %(limit_value)d character (it has %(show_value)d).",
                "The message is too long: at most %(limit_value)d characters (it has %(show_value)d).",
                "limit_value",
            ),
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["phone"].required = False  # normalize_phone says what is missing, in words
        self.fields["phone"].widget.attrs.update(
            {
                "autocomplete": "tel",
                "inputmode": "tel",
                "placeholder": "+44 7911 123456",
                "required": True,
            }
        )

    def clean_phone(self):
        return normalize_phone(self.cleaned_data.get("phone"))

    def clean_message(self):
        message = self.cleaned_data["message"]
        if "\x00" in message:
            raise forms.ValidationError(_("The message contains characters that cannot be sent."))
        return message

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            data["price"] = catalog.send_price()
        except catalog.CatalogError as exc:
            self.catalog_error(exc)
        return data
