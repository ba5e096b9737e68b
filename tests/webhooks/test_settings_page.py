"""The webhooks' section of the settings page: the Notification URL's use said, the signing secret
shown once to its owner, and the owner's own last deliveries with how each went."""

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from plugtrack_site.events import event_happened
from settings_app.services import settings_update
from webhooks.models import Delivery, SigningSecret
from webhooks.services import deliveries_due_send

from .conftest import signing_secret_of


def page_url(user) -> str:
    return reverse("admin:settings_app_setting_user", args=[user.pk])


def form_data(**changes) -> dict:
    values = {
        "default_efficiency_mpkwh": "4.1", "home_aliases_csv": "home,house,garage", "home_charging_speed_kw": "2.3",
        "petrol_price_p_per_litre": "128.9", "petrol_mpg": "60.0", "allow_efficiency_fallback": "on",
        "max_price_per_kwh": "2.00", "notification_url": "",
    }  # fmt: skip
    return values | changes


def happened(user, kind="import.finished", **data) -> None:
    event_happened.send(sender=None, user_id=user.pk, kind=kind, data=data)


def test_the_notification_url_is_on_the_page_saying_what_it_does(owner_client, owner):
    html = owner_client.get(page_url(owner)).content.decode()
    assert 'name="notification_url"' in html and "Notification URL (secret)" in html
    assert "PlugTrack POSTs signed JSON events to this address" in html
    assert "No Notification URL is set" in html and "None yet." in html


def test_a_url_must_be_http_or_https(owner_client, owner):
    for wrong in ("ftp://example.org/x", "file:///etc/passwd", "hooks.example/x", "https://", "http://a b/"):
        response = owner_client.post(page_url(owner), form_data(notification_url=wrong))
        assert response.status_code == 200, wrong
        assert "give a web address starting with http:// or https://" in response.content.decode()
    assert not SigningSecret.objects.exists()


def test_the_signing_secret_is_made_with_the_first_url_and_shown_once_to_its_owner(owner_client, owner, receiver):
    response = owner_client.post(page_url(owner), form_data(notification_url=receiver.url))
    assert response.status_code == 302
    secret = signing_secret_of(owner)
    assert secret.startswith("ptwh_") and secret not in SigningSecret.objects.get().secret  # stored encrypted

    first = owner_client.get(page_url(owner)).content.decode()
    assert secret in first and "copy it now, it is not shown again" in first
    for _ in range(2):
        again = owner_client.get(page_url(owner)).content.decode()
        assert secret not in again and "it is never shown again" in again

    owner_client.post(page_url(owner), form_data(notification_url="https://hooks.example/other"))
    assert signing_secret_of(owner) == secret  # a URL changed keeps the secret
    assert secret not in owner_client.get(page_url(owner)).content.decode()


def test_a_new_signing_secret_on_request_is_shown_once_and_signs_what_follows(owner_client, owner, receiver):
    settings_update(user=owner, values={"notification_url": receiver.url})
    old = signing_secret_of(owner)
    owner_client.get(page_url(owner))  # shown once

    response = owner_client.post(page_url(owner), {"webhooks_new_secret": "New signing secret"}, follow=True)
    html = response.content.decode()
    new = signing_secret_of(owner)
    assert new != old and new in html and old not in html and "A new signing secret was made" in html
    assert new not in owner_client.get(page_url(owner)).content.decode()

    happened(owner)
    receiver.verified(new)


def test_an_administrator_never_sees_an_owners_secret_nor_makes_one(admin_client, owner, receiver):
    settings_update(user=owner, values={"notification_url": receiver.url})
    secret = signing_secret_of(owner)
    html = admin_client.get(page_url(owner)).content.decode()
    assert secret not in html and 'name="webhooks_new_secret"' not in html
    response = admin_client.post(page_url(owner), {"webhooks_new_secret": "1"}, follow=True)
    assert "Only alice can make their signing secret" in response.content.decode()
    assert signing_secret_of(owner) == secret
    assert SigningSecret.objects.get(user=owner).shown_at is None  # still to be shown to alice


def test_the_page_lists_the_last_deliveries_with_how_each_went(owner_client, owner, receiver):
    settings_update(user=owner, values={"notification_url": receiver.url})
    secret = signing_secret_of(owner)
    owner_client.get(page_url(owner))
    receiver.answers = [500]
    happened(owner, "import.finished")  # waiting after a 500
    happened(owner, "session.created", count=3)  # delivered
    html = owner_client.get(page_url(owner)).content.decode()
    waiting, delivered = Delivery.objects.order_by("id")
    assert '<tr class="pt-delivery-pending">' in html and '<tr class="pt-delivery-delivered">' in html
    assert "HTTP 500: Internal trouble" in html and "session.created" in html and "import.finished" in html
    assert f"{timezone.localtime(waiting.next_attempt_at):%-d %b %Y %H:%M}" in html  # (the site's one format)
    assert html.index("session.created</td>") < html.index("import.finished</td>")  # newest first
    assert secret not in html

    receiver.answers = [500] * 40
    while deliveries_due_send(now=Delivery.objects.get(pk=waiting.pk).next_attempt_at or timezone.now()):
        pass
    html = owner_client.get(page_url(owner)).content.decode()
    assert '<tr class="pt-delivery-failed">' in html and "Given up after 29 attempts." in html


def test_the_page_shows_twenty_deliveries(owner_client, owner, receiver):
    settings_update(user=owner, values={"notification_url": receiver.url})
    for number in range(25):
        happened(owner, number=number)
    html = owner_client.get(page_url(owner)).content.decode()
    assert html.count('<tr class="pt-delivery-delivered">') == 20 and "The last 20 deliveries" in html


def test_an_owner_sees_only_their_own_deliveries(owner_client, owner, other_owner, receiver):
    settings_update(user=other_owner, values={"notification_url": receiver.url + "?bob"})
    happened(other_owner, "backup.failed", error="bob's disk is full")
    assert Delivery.objects.filter(user=other_owner).count() == 1
    html = owner_client.get(page_url(owner)).content.decode()
    assert "backup.failed" not in html and "None yet." in html
    assert owner_client.get(page_url(other_owner)).status_code == 403
    response = owner_client.post(page_url(other_owner), {"webhooks_new_secret": "1"})
    assert response.status_code == 403


def test_a_retry_is_signed_with_the_new_secret_after_a_replacement(owner_client, owner, receiver):
    settings_update(user=owner, values={"notification_url": receiver.url})
    receiver.answers = [500]
    happened(owner)
    owner_client.post(page_url(owner), {"webhooks_new_secret": "1"})
    [delivery] = deliveries_due_send(now=timezone.now() + dt.timedelta(minutes=2))
    assert delivery.status == "delivered"
    retried = receiver.requests[-1]
    from .conftest import plugtrack_event

    plugtrack_event(signing_secret_of(owner), retried.headers, retried.body, tolerance=0)


def test_a_rotation_of_the_encryption_keys_reencrypts_the_signing_secret(owner, receiver, settings):
    from cryptography.fernet import Fernet

    from settings_app.services import settings_rotate_key

    settings_update(user=owner, values={"notification_url": receiver.url})
    secret = signing_secret_of(owner)
    new_key = Fernet.generate_key().decode()
    settings.PLUGTRACK_ENCRYPTION_KEYS = [new_key, *settings.PLUGTRACK_ENCRYPTION_KEYS]
    report = settings_rotate_key()
    assert report.unreadable == [] and report.busy == []
    settings.PLUGTRACK_ENCRYPTION_KEYS = [new_key]  # the old key dropped
    assert signing_secret_of(owner) == secret
    happened(owner)
    receiver.verified(secret)
