#!/usr/bin/env python
"""CI (ci/compose_check.sh): a buyer and the admin, over HTTPS, against the running compose stack.

The shop runs with its production settings behind the compose proxy (Caddy); the upstream is the
sandboxed sms4sats of ci/compose.ci.yml, whose wallet pays the invoice. Prints one line per step and
exits non-zero (with the reason) at the first step that does not behave as production must.

    compose_order.py --shop https://localhost:18443 --http http://localhost:18080 --ca root.crt \
        --wallet http://127.0.0.1:18301 --admin-user ci-admin --admin-password ...

``--plain`` instead: a shop served over plain HTTP on purpose (the Umbrel package behind its app_proxy, reached
on the LAN or over Tor): no HSTS, cookies without ``Secure`` (a browser would drop them), no redirect to check.

    compose_order.py --plain --shop http://127.0.0.1:18480 --wallet http://127.0.0.1:18302 --admin-user admin ...
"""

import argparse
import re
import sys
import time

import httpx

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
INVOICE = re.compile(r"lnbcrt[0-9a-z]{50,}")


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)


def step(message):
    print(f"compose_order: {message}", flush=True)


def csrf_token(html):
    found = CSRF_FIELD.search(html)
    check(found, "no CSRF token in the form")
    return found.group(1)


def options(html, select_id):
    select = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    check(select, f"no <select id={select_id}> in the page")
    tags = re.findall(r"<option\b[^>]*>", select.group(1))
    values = [re.search(r'\bvalue="([^"]*)"', tag) for tag in tags if not re.search(r"\sdisabled\b", tag)]
    return [value.group(1) for value in values if value and value.group(1)]


def wait_for(fetch, found, seconds, what):
    deadline = time.monotonic() + seconds
    while True:
        body = fetch()
        if found(body):
            return body
        check(time.monotonic() < deadline, f"{what} did not happen within {seconds} s")
        time.sleep(1)


def plain_http_redirects(http_base):
    response = httpx.get(http_base + "/", follow_redirects=False, timeout=10)
    location = response.headers.get("location", "")
    check(response.status_code in (301, 302, 307, 308), f"plain HTTP answered {response.status_code}, not a redirect")
    check(location.startswith("https://"), f"plain HTTP redirects to {location!r}, not to HTTPS")
    step(f"plain HTTP redirects to HTTPS ({response.status_code} {location})")


def place_order(shop, plain=False):
    home = shop.get("/")
    check(home.status_code == 200, f"home page answered {home.status_code}")
    cookie = home.headers.get("set-cookie", "")
    if plain:
        check("strict-transport-security" not in home.headers, "HSTS over plain HTTP")
        check("csrftoken=" in cookie and "Secure" not in cookie, f"the CSRF cookie is Secure over HTTP: {cookie!r}")
    else:
        check("max-age=" in home.headers.get("strict-transport-security", ""), "no HSTS header over HTTPS")
        check("csrftoken=" in cookie and "Secure" in cookie, f"the CSRF cookie is not Secure: {cookie!r}")
    token = csrf_token(home.text)
    countries = options(home.text, "id_country")
    check(countries, "no country to choose from (is the upstream answering?)")
    country = "999" if "999" in countries else countries[0]
    services = options(shop.get("/catalog/services", params={"country": country}).text, "id_service")
    check(services, f"no service to choose from in country {country}")
    form = {"country": country, "service": services[0]}

    refused = shop.post("/", data=form)
    check(refused.status_code == 403, f"a POST without the CSRF token answered {refused.status_code}, not 403")
    placed = shop.post("/", data={"csrfmiddlewaretoken": token, **form})
    location = placed.headers.get("location", "")
    check(placed.status_code == 302 and "/o/" in location, f"the order form answered {placed.status_code} {location!r}")
    cookies = "cookies for plain HTTP, no HSTS" if plain else "secure cookies and HSTS"
    step(f"{cookies}; CSRF enforced; order placed ({country}/{services[0]}): {location}")
    return location


def pay(wallet_base, invoice):
    with httpx.Client(base_url=wallet_base, timeout=20) as wallet:
        token = csrf_token(wallet.get("/sandbox/wallet/").text)
        paid = wallet.post(
            "/sandbox/wallet/pay",
            data={"csrfmiddlewaretoken": token, "payreq": invoice},
            headers={"Accept": "application/json", "Referer": wallet_base + "/sandbox/wallet/"},
        )
    check(paid.status_code == 200 and paid.json().get("ok"), f"the sandbox wallet refused to pay: {paid.text[:200]}")


def admin_login(shop, user, password, plain=False):
    form = shop.get("/admin/login/", params={"next": "/admin/"})
    check(form.status_code == 200, f"the admin login page answered {form.status_code}")
    logged_in = shop.post(
        "/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": csrf_token(form.text), "username": user, "password": password, "next": "/admin/"},
    )
    check(logged_in.status_code == 302, f"the admin login answered {logged_in.status_code}, not a redirect")
    session = logged_in.headers.get("set-cookie", "")
    check("sessionid=" in session and ("Secure" in session) != plain, f"the admin session cookie: {session!r}")
    index = shop.get("/admin/")
    check(index.status_code == 200 and "Log out" in index.text, f"the admin index answered {index.status_code}")
    orders = shop.get("/admin/orders/order/")
    check(orders.status_code == 200, f"the admin's order list answered {orders.status_code}")
    step(f"admin: logged in over {'plain HTTP' if plain else 'HTTPS with a Secure session cookie'}, order list shown")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shop", required=True, help="the shop's HTTPS base URL (through the proxy)")
    parser.add_argument("--http", help="the proxy's plain HTTP base URL (redirected to HTTPS)")
    parser.add_argument("--ca", help="the proxy's CA certificate (Caddy's internal CA)")
    parser.add_argument("--plain", action="store_true", help="the shop is served over plain HTTP on purpose")
    parser.add_argument("--wallet", required=True, help="the sandboxed upstream's base URL (its wallet)")
    parser.add_argument("--admin-user", required=True)
    parser.add_argument("--admin-password", required=True)
    parser.add_argument("--code-seconds", type=int, default=90)
    args = parser.parse_args()
    if not args.plain and not (args.http and args.ca):
        parser.error("--http and --ca are needed unless --plain")

    headers = {"Origin": args.shop, "Referer": args.shop + "/"}
    try:
        if not args.plain:
            plain_http_redirects(args.http)
        verify = args.ca if args.ca else True
        with httpx.Client(base_url=args.shop, verify=verify, headers=headers, timeout=20) as shop:
            order_url = place_order(shop, plain=args.plain)
            page = wait_for(lambda: shop.get(order_url).text, INVOICE.search, 60, "the invoice")
            invoice = INVOICE.search(page).group(0)
            pay(args.wallet, invoice)
            paid_at = time.monotonic()
            step("paid with the upstream's sandbox wallet")
            status = lambda: shop.get(order_url + "status").text  # noqa: E731
            wait_for(status, lambda html: "Your code" in html, args.code_seconds, "the code")
            check("Your code" in shop.get(order_url).text, "the order page does not show the code")
            step(f"the code is on the order page {time.monotonic() - paid_at:.0f} s after paying")
            admin_login(shop, args.admin_user, args.admin_password, plain=args.plain)
    except (Failed, httpx.HTTPError) as exc:
        print(f"compose_order: FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
