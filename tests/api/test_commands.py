"""`api_token_create` and `api_token_revoke`: one call into the token services each; the token printed
once; expected failures exit 2 with a one-line message."""

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from api.models import ApiToken
from api.services import api_token_authenticate


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_prints_the_token_once_and_keeps_only_its_hash(owner, make_car):
    niro = make_car(owner, name="Niro")
    data = json.loads(run("api_token_create", "--user", "alice", "--name", "evcc", "--scopes",
                          "sessions:write,sessions:read", "--cars", str(niro.pk), "--expires-days", "30", "--json"))
    token = ApiToken.objects.get()
    assert data["ok"] and data["id"] == token.prefix and data["cars"] == [niro.pk]
    assert data["scopes"] == ["sessions:write", "sessions:read"]
    assert api_token_authenticate(presented=data["token"], address=None) == token
    assert (token.expires_at - token.created_at).days in (29, 30)

    text = run("api_token_create", "--user", "alice", "--name", "HA", "--scopes", "analytics:read")
    assert "pt_" in text and "cannot show it again" in text
    assert ApiToken.objects.get(name="HA").cars.count() == 0  # all the owner's cars


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--scopes", "sessions:delete"], "Unknown scope(s): sessions:delete"),
        (["--scopes", ","], "at least one scope"),
        (["--scopes", "sessions:read", "--expires-days", "366"], "1 to 365 days"),
        (["--scopes", "sessions:read", "--expires-days", "0"], "1 to 365 days"),
        (["--scopes", "sessions:read", "--cars", "999"], "has no car 999"),
        (["--scopes", "sessions:read", "--cars", "one"], "--cars takes car ids"),
    ],
)
def test_create_refuses_with_a_message_and_exit_2(owner, arguments, said):
    with pytest.raises(CommandError, match=re.escape(said)) as refused:
        run("api_token_create", "--user", "alice", "--name", "x", *arguments)
    assert refused.value.returncode == 2
    assert not ApiToken.objects.exists()


def test_create_refuses_another_owners_car(owner, other_owner, make_car):
    theirs = make_car(other_owner, name="Theirs")
    with pytest.raises(CommandError, match=f"has no car {theirs.pk}"):
        run("api_token_create", "--user", "alice", "--name", "x", "--scopes", "sessions:read", "--cars", str(theirs.pk))


def test_revoke_by_name_or_by_id_once(owner, make_token):
    first, _ = make_token(owner, name="first")
    second, _ = make_token(owner, name="second")
    assert "Revoked “first”" in run("api_token_revoke", "--user", "alice", "--name", "first")
    data = json.loads(run("api_token_revoke", "--user", "alice", "--id", f"pt_{second.prefix}_", "--json"))
    assert data["ok"] and data["id"] == second.prefix
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 0
    with pytest.raises(CommandError, match="was revoked already") as refused:
        run("api_token_revoke", "--user", "alice", "--id", second.prefix)
    assert refused.value.returncode == 2
    with pytest.raises(CommandError, match="no live token named “first”"):
        run("api_token_revoke", "--user", "alice", "--name", "first")


def test_revoke_finds_only_the_owners_own_tokens(owner, other_owner, make_token):
    theirs, _ = make_token(other_owner, name="theirs")
    with pytest.raises(CommandError, match="no live token"):
        run("api_token_revoke", "--user", "alice", "--id", theirs.prefix)
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_a_revoked_tokens_name_may_be_given_again(owner, make_token):
    make_token(owner, name="HA")
    run("api_token_revoke", "--user", "alice", "--name", "HA")
    run("api_token_create", "--user", "alice", "--name", "HA", "--scopes", "sessions:read")
    assert ApiToken.objects.filter(name="HA").count() == 2
