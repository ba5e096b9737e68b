import re
from decimal import Decimal

from django.urls import reverse

from settings_app.models import Setting
from settings_app.services import settings_update, user_settings


def page_url(user) -> str:
    return reverse("admin:settings_app_setting_user", args=[user.pk])


def form_data(**changes) -> dict:
    values = {
        "default_efficiency_mpkwh": "4.1",
        "home_aliases_csv": "home,house,garage",
        "home_charging_speed_kw": "2.3",
        "petrol_price_p_per_litre": "128.9",
        "petrol_mpg": "60.0",
        "allow_efficiency_fallback": "on",
        "max_price_per_kwh": "2.00",
        "notification_url": "",
    }
    return {key: value for key, value in (values | changes).items() if value is not None}


def test_the_page_has_four_tabs_typed_inputs_and_the_petrol_preview(owner_client, owner):
    response = owner_client.get(page_url(owner))
    html = response.content.decode()
    assert response.status_code == 200
    for tab in ("Efficiency", "Home Detection", "Petrol Baseline", "Advanced"):
        assert f">{tab}</a>" in html
    assert 'type="number" name="petrol_mpg" value="60.0" min="10" max="200" step="0.1"' in html
    assert 'type="checkbox" name="allow_efficiency_fallback"' in html
    assert '<strong id="pt-petrol-ppm">9.77</strong>' in html
    assert '<strong id="pt-pkwh">40.0</strong>' in html


def test_saving_stores_typed_values_and_updates_the_preview(owner_client, owner):
    response = owner_client.post(
        page_url(owner), form_data(petrol_price_p_per_litre="150", petrol_mpg="50", allow_efficiency_fallback=None)
    )
    assert response.status_code == 302
    settings = user_settings(user=owner)
    assert settings.petrol_price_p_per_litre == Decimal("150")
    assert settings.allow_efficiency_fallback is False
    html = owner_client.get(page_url(owner)).content.decode()
    assert '<strong id="pt-petrol-ppm">13.64</strong>' in html


def test_invalid_values_are_shown_inline_and_nothing_is_saved(owner_client, owner):
    response = owner_client.post(page_url(owner), form_data(petrol_mpg="5", home_aliases_csv="home,,garage"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Please correct the errors below; nothing was saved." in html
    assert "Petrol car economy (UK mpg): must be between 10 and 200, not 5." in html
    assert "none empty" in html
    assert user_settings(user=owner).petrol_mpg == Decimal("60.0")


def test_each_mistake_gets_one_message_and_each_tab_with_one_is_marked(owner_client, owner):
    # Three tabs wrong at once; "1.45" (pounds, not pence) is both below 50 and finer than 0.1: one message.
    data = form_data(default_efficiency_mpkwh="4.15", home_aliases_csv="", petrol_price_p_per_litre="1.45")
    html = owner_client.post(page_url(owner), data).content.decode()

    assert html.count('class="errorlist') == 3
    assert "Petrol price (p/litre): must be between 50 and 500, not 1.45." in html
    assert "Default efficiency (mi/kWh): give it in steps of 0.1, not 4.15." in html
    tabs = re.findall(r'<a href="#tab-\d"[^>]*>([^<]+)(?:<span[^>]*>([^<]*)</span>)?</a>', html)
    assert [(name.strip(), count) for name, count in tabs] == [
        ("Efficiency", "(1 error)"), ("Home Detection", "(1 error)"), ("Petrol Baseline", "(1 error)"),
        ("Advanced", ""),
    ]  # fmt: skip
    assert html.count('class="pt-tab-errors"') == 3


def test_a_secret_is_write_only_in_the_page(owner_client, owner):
    owner_client.post(page_url(owner), form_data(notification_url="https://hooks.example/secret-token"))
    row = Setting.objects.get(user=owner, key="notification_url")
    assert row.encrypted and "secret-token" not in row.value

    html = owner_client.get(page_url(owner)).content.decode()
    assert "secret-token" not in html and row.value not in html
    assert "A value is stored (hidden)." in html

    owner_client.post(page_url(owner), form_data())  # blank keeps it
    assert Setting.objects.get(user=owner, key="notification_url").value == row.value
    owner_client.post(page_url(owner), form_data(notification_url__clear="on"))
    assert Setting.objects.get(user=owner, key="notification_url").value == ""


def test_the_settings_list_sends_a_staff_user_to_their_own_page(owner_client, owner):
    response = owner_client.get(reverse("admin:settings_app_setting_changelist"))
    assert response.status_code == 302 and response.url == page_url(owner)


def test_a_staff_user_cannot_open_or_change_another_users_settings(owner_client, other_owner):
    assert owner_client.get(page_url(other_owner)).status_code == 403
    assert owner_client.post(page_url(other_owner), form_data(petrol_mpg="99")).status_code == 403
    assert user_settings(user=other_owner).petrol_mpg == Decimal("60.0")
    someone_elses_row = Setting.objects.filter(user=other_owner).first()
    change_url = reverse("admin:settings_app_setting_change", args=[someone_elses_row.pk])
    assert owner_client.get(change_url).status_code == 404


def test_a_superuser_lists_everyones_settings_with_secrets_masked(admin_client, owner, other_owner):
    settings_update(user=owner, values={"notification_url": "https://hooks.example/secret-token"})
    html = admin_client.get(reverse("admin:settings_app_setting_changelist")).content.decode()
    assert "alice" in html and "bob" in html
    assert "•••••• (encrypted)" in html and "secret-token" not in html
    assert admin_client.get(page_url(other_owner)).status_code == 200


def test_an_unreadable_secret_is_shown_as_such_with_what_to_do(owner_client, owner, settings):
    from cryptography.fernet import Fernet

    settings_update(user=owner, values={"notification_url": "https://hooks.example/a"})
    settings.PLUGTRACK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the key it was stored under is gone
    html = owner_client.get(page_url(owner)).content.decode()
    assert "none of the keys in PLUGTRACK_ENCRYPTION_KEYS can read it" in html
    assert "Add that key after the current one, or enter the value again here." in html
    assert "Remove the stored value" in html

    response = owner_client.post(page_url(owner), form_data(notification_url="https://hooks.example/new"))
    assert response.status_code == 302
    html = owner_client.get(page_url(owner)).content.decode()
    assert "A value is stored (hidden)" in html and "can read it" not in html


def test_the_preview_says_its_break_even_price_is_at_the_default_efficiency(owner_client, owner):
    """A car's page works it out at the car's efficiency (tests/cars_app/test_analytics_page.py): say why."""
    html = owner_client.get(page_url(owner)).content.decode().replace("&#x27;", "'").replace("’", "'")
    assert 'at the default efficiency, <span id="pt-default-efficiency">4.1</span> mi/kWh, electricity below' in html
    assert "A car's analytics page works its break-even price out at that car's own efficiency (measured" in html
    settings_update(user=owner, values={"default_efficiency_mpkwh": Decimal("3.5")})
    html = owner_client.get(page_url(owner)).content.decode()
    assert '<span id="pt-default-efficiency">3.5</span>' in html and '<strong id="pt-pkwh">34.2</strong>' in html
