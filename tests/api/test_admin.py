"""API tokens in the admin: made by their owner with the password entered again, the token shown once on
the page that follows and never again; each owner sees, and revokes, only their own."""

from axes.models import AccessAttempt
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from api.models import ApiToken
from api.services import api_token_authenticate

ADD = reverse("admin:api_apitoken_add")
CHANGELIST = reverse("admin:api_apitoken_changelist")


def form(**changes) -> dict:
    return {"name": "Home Assistant", "scopes": ["sessions:write", "sessions:read"], "expires_days": "90",
            "password": "alice-password"} | changes  # fmt: skip


def test_a_token_is_made_with_the_password_and_shown_once(owner_client, owner, make_car):
    niro = make_car(owner, name="Niro")
    page = owner_client.get(ADD).content.decode()
    assert "Your password" in page and "Niro" in page

    response = owner_client.post(ADD, form(cars=[niro.pk]))
    assert response.status_code == 200
    token = ApiToken.objects.get()
    page = response.content.decode()
    secret = page.split('<code id="api-token-secret">')[1].split("</code>")[0]
    assert api_token_authenticate(presented=secret, address=None) == token
    assert "never show it again" in page and "no-store" in response["Cache-Control"]
    assert (token.user, token.scopes, list(token.cars.all())) == (owner, ["sessions:write", "sessions:read"], [niro])

    for url in (CHANGELIST, reverse("admin:api_apitoken_change", args=[token.pk])):
        shown = owner_client.get(url).content.decode()
        assert token.public_part in shown and secret not in shown and secret[len(token.public_part) :] not in shown


def test_a_wrong_password_makes_no_token(owner_client):
    response = owner_client.post(ADD, form(password="not-it"))
    assert response.status_code == 200 and "That is not your password." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_token_is_made_only_on_the_owners_own_cars_and_within_a_year(owner_client, owner, other_owner, make_car):
    theirs = make_car(other_owner, name="Theirs")
    page = owner_client.get(ADD).content.decode()
    assert "Theirs" not in page
    assert owner_client.post(ADD, form(cars=[theirs.pk])).status_code == 200
    assert owner_client.post(ADD, form(expires_days="366")).status_code == 200
    assert owner_client.post(ADD, form(scopes=[])).status_code == 200
    assert not ApiToken.objects.exists()


def test_a_second_live_token_of_one_name_is_refused_with_why(owner_client, make_token, owner):
    make_token(owner, name="Home Assistant")
    response = owner_client.post(ADD, form())
    assert "has a token named “Home Assistant” already" in response.content.decode()
    assert ApiToken.objects.count() == 1


def test_each_owner_sees_and_reaches_only_their_own_tokens(owner_client, owner, other_owner, make_token):
    mine, _ = make_token(owner, name="Mine")
    theirs, _ = make_token(other_owner, name="Theirs")
    listed = owner_client.get(CHANGELIST).content.decode()
    assert "Mine" in listed and "Theirs" not in listed
    response = owner_client.get(reverse("admin:api_apitoken_change", args=[theirs.pk]), follow=True)
    assert b"doesn\xe2\x80\x99t exist" in response.content
    owner_client.post(CHANGELIST, {"action": "revoke", ACTION_CHECKBOX_NAME: [mine.pk, theirs.pk]})
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None and theirs.revoked_at is None


def test_a_token_cannot_be_changed_only_revoked(owner_client, owner, make_token):
    token, _ = make_token(owner)
    page = owner_client.get(reverse("admin:api_apitoken_change", args=[token.pk])).content.decode()
    assert 'name="_save"' not in page and 'name="scopes"' not in page
    response = owner_client.post(CHANGELIST, {"action": "revoke", ACTION_CHECKBOX_NAME: [token.pk]}, follow=True)
    assert "Revoked 1 token(s)" in response.content.decode()
    assert "revoked" in owner_client.get(CHANGELIST).content.decode()


def test_wrong_passwords_count_towards_the_logins_lockout(owner_client):
    for _ in range(5):
        owner_client.post(ADD, form(password="not-it"), REMOTE_ADDR="192.0.2.1")
    attempt = AccessAttempt.objects.get(username="alice")
    assert attempt.failures_since_start == 5
    response = owner_client.post(ADD, form(), REMOTE_ADDR="192.0.2.1")  # the right one, now locked out
    assert response.status_code == 429  # django-axes' lockout page
    assert not ApiToken.objects.exists()
