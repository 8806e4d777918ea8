# Sourced by umbrelOS before the app starts. Secrets are derived from APP_SEED (unique to this app on this
# Umbrel, stable across updates): each is the SHA-256 of the seed and what it is for, so none repeats another.
derive_secret() {
    printf '%s' "${APP_SEED}:sms4sats-shop:$1" | sha256sum | cut -d ' ' -f 1
}
export APP_SMS4SATS_SHOP_SECRET_KEY="$(derive_secret django-secret-key)"
export APP_SMS4SATS_SHOP_METRICS_TOKEN="$(derive_secret metrics-token)"
