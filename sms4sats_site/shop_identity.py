"""Who runs this shop: its name, a contact and its terms (SHOP_NAME, SHOP_CONTACT, SHOP_TERMS_URL).

Pages read them through ``shop_identity()`` only, so that they can later come from somewhere else (the admin)
without touching a template. ``parse_contact`` is also what settings.py validates SHOP_CONTACT with at start-up.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_NAME = "SMS for sats"  # the pages' name when the operator sets none (as before these settings)

EMAIL = re.compile(r"[^@\s/:]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
TELEGRAM = re.compile(r"(?:@|(?:https?://)?(?:t\.me|telegram\.me)/)([A-Za-z][A-Za-z0-9_]{3,31})/?")
MATRIX = re.compile(r"@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(:[0-9]+)?")
NPUB = re.compile(r"(?:nostr:)?(npub1[02-9ac-hj-np-z]{58})")


@dataclass(frozen=True)
class Contact:
    kind: str  # email, telegram, matrix, nostr, url
    href: str
    label: str


def parse_contact(raw):
    """The link for a contact: an e-mail address, a Telegram @handle or t.me link, a Matrix @user:server, a Nostr
    npub (a nostr: link, which the buyer's own client opens; no third-party web viewer) or an http(s) URL.
    None for an empty value; ValueError, saying what is accepted, for anything else."""
    text = (raw or "").strip()
    if not text:
        return None
    if match := NPUB.fullmatch(text):
        npub = match.group(1)
        return Contact("nostr", f"nostr:{npub}", f"{npub[:12]}…{npub[-6:]}")
    if MATRIX.fullmatch(text):
        return Contact("matrix", f"https://matrix.to/#/{text}", text)
    if match := TELEGRAM.fullmatch(text):
        handle = match.group(1)
        return Contact("telegram", f"https://t.me/{handle}", f"@{handle}")
    if EMAIL.fullmatch(text):
        return Contact("email", f"mailto:{text}", text)
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.netloc and not re.search(r"[\s\"'<>]", text):
        return Contact("url", text, parts.netloc + (parts.path if parts.path not in ("", "/") else ""))
    raise ValueError(
        "expected an e-mail address, a Telegram @handle or t.me link, a Matrix @user:server, a Nostr npub "
        f"or an http(s) URL, got {text!r}"
    )


def _from_settings(name):
    from django.conf import settings

    return getattr(settings, name, "")


def shop_identity(get=_from_settings):
    """{"name", "named" (the operator set a name), "contact" (a Contact or None), "terms_url"}; ``get`` reads a
    setting (the buyer pages pass shopsettings' ``runtime.get``, so a change in the admin applies at once)."""
    name = get("SHOP_NAME")
    try:
        contact = parse_contact(get("SHOP_CONTACT"))
    except ValueError:  # checked when saved and at start-up; never a 500 for a buyer
        contact = None
    return {"name": name or DEFAULT_NAME, "named": bool(name), "contact": contact, "terms_url": get("SHOP_TERMS_URL")}
