"""Credentials at rest: only ciphertext in the database, only masks in answers and logs, and key rotation."""

from __future__ import annotations

import logging
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.crypto import CredentialKeyError, key_id
from accounts.fields import reveal
from accounts.models import ExchangeAccount
from aresbot.logging import RedactSecretsFilter, redact
from tests.factories import make_account

API_KEY = "okx-api-key-3f9c2a7e-51d4-4b8e-9a0f"
API_SECRET = "0F4A2C9E7B1D3A5C8E6F0B2D4A6C8E0F"
PASSPHRASE = "Correct-Horse-9"
SECRETS = (API_KEY, API_SECRET, PASSPHRASE)
COLUMNS = ("api_key", "api_secret", "passphrase")

KEY_A = "a1" * 32
KEY_B = "b2" * 32


def okx_account(owner: User, name: str = "okx", **secrets: str) -> ExchangeAccount:
    values = {"api_key": API_KEY, "api_secret": API_SECRET, "passphrase": PASSPHRASE, **secrets}
    return make_account(owner, name, "okx", **values)


def raw_columns(account_id: int) -> dict[str, str]:
    """The stored values as the database holds them, past every model field and manager."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(map(quote, COLUMNS))} FROM {quote(ExchangeAccount._meta.db_table)} WHERE id = %s",  # noqa: S608
            [account_id],
        )
        row = cursor.fetchone()
    return dict(zip(COLUMNS, row, strict=True))


def write_raw_column(account_id: int, column: str, value: str) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(ExchangeAccount._meta.db_table)} SET {quote(column)} = %s WHERE id = %s",  # noqa: S608
            [value, account_id],
        )


def revealed(account_id: int) -> tuple[str, ...]:
    account = ExchangeAccount.objects.get(pk=account_id)
    return tuple(reveal(getattr(account, column)) for column in COLUMNS)


# --- at rest ------------------------------------------------------------------------------------------------------


def test_the_database_holds_only_ciphertext_tagged_with_the_key_id(alice_client, settings):
    r = alice_client.post(
        "/api/accounts",
        {"name": "okx", "exchange": "okx", "api_key": API_KEY, "api_secret": API_SECRET, "passphrase": PASSPHRASE},
        format="json",
    )
    assert r.status_code == 201, r.json()
    stored = raw_columns(r.json()["id"])
    for column, plaintext in zip(COLUMNS, SECRETS, strict=True):
        assert stored[column].startswith(f"v1:{key_id(settings.ENCRYPTION_KEY)}:")
        assert plaintext not in stored[column]
    assert revealed(r.json()["id"]) == SECRETS


def test_the_same_plaintext_saved_twice_gives_two_ciphertexts(alice):
    first = okx_account(alice, "first")
    second = okx_account(alice, "second")
    first.api_secret = API_SECRET
    first.save()
    seen = [raw_columns(first.pk)["api_secret"], raw_columns(second.pk)["api_secret"]]
    assert len(set(seen)) == 2  # a random nonce each time: equal secrets cannot be spotted in the table
    assert revealed(first.pk)[1] == revealed(second.pk)[1] == API_SECRET


def test_an_update_through_a_queryset_is_encrypted_too(alice):
    account = okx_account(alice)
    ExchangeAccount.objects.filter(pk=account.pk).update(api_secret="S3cretFromUpdate-0123")
    assert "S3cretFromUpdate" not in raw_columns(account.pk)["api_secret"]
    assert revealed(account.pk)[1] == "S3cretFromUpdate-0123"


# --- in answers ---------------------------------------------------------------------------------------------------


def assert_masks_only(response: Any, secrets: tuple[str, ...] = SECRETS) -> dict[str, Any]:
    text = response.content.decode()
    for secret in secrets:
        assert secret not in text
    return response.json()


def test_api_answers_show_only_masks(alice_client):
    created = alice_client.post(
        "/api/accounts",
        {"name": "okx", "exchange": "okx", "api_key": API_KEY, "api_secret": API_SECRET, "passphrase": PASSPHRASE},
        format="json",
    )
    body = assert_masks_only(created)
    assert body["api_key_masked"] == "****" + API_KEY[-4:]
    assert body["api_secret_masked"] == "****" + API_SECRET[-4:]
    assert body["passphrase_masked"] == "****" + PASSPHRASE[-4:]
    url = f"/api/accounts/{body['id']}"

    listed = assert_masks_only(alice_client.get("/api/accounts"))["results"][0]
    detail = assert_masks_only(alice_client.get(url))
    assert listed["api_key_masked"] == detail["api_key_masked"] == body["api_key_masked"]

    new_secret = "9E8D7C6B5A4F3E2D1C0B9A8F7E6D5C4B"
    updated = alice_client.patch(url, {"api_secret": new_secret, "passphrase": "short"}, format="json")
    body = assert_masks_only(updated, (*SECRETS, new_secret))
    assert body["api_secret_masked"] == "****" + new_secret[-4:]
    assert body["passphrase_masked"] == "****"  # too short to show any of it
    for name in COLUMNS:
        assert name not in body


# --- wrong keys and tampering -------------------------------------------------------------------------------------


def test_a_wrong_encryption_key_raises_a_clear_error_and_the_account_says_so(alice, alice_client, settings):
    account = okx_account(alice)
    settings.ENCRYPTION_KEY = "c3" * 32
    loaded = ExchangeAccount.objects.get(pk=account.pk)
    with pytest.raises(CredentialKeyError, match="ENCRYPTION_KEY"):
        reveal(loaded.api_key)

    listed = alice_client.get("/api/accounts")
    detail = alice_client.get(f"/api/accounts/{account.pk}")
    assert listed.status_code == detail.status_code == 200
    for shown in (assert_masks_only(listed)["results"][0], assert_masks_only(detail)):
        assert "ENCRYPTION_KEY" in shown["credentials_error"]
        assert shown["api_key_masked"] is shown["api_secret_masked"] is shown["passphrase_masked"] is None
    # What needs the plaintext cannot work: 503 naming the setting.
    r = alice_client.post(f"/api/accounts/{account.pk}/verify")
    assert r.status_code == 503
    assert "ENCRYPTION_KEY" in assert_masks_only(r)["detail"]


def test_a_ciphertext_moved_into_another_column_fails_authentication(alice, alice_client):
    account = okx_account(alice)
    write_raw_column(account.pk, "api_key", raw_columns(account.pk)["api_secret"])
    loaded = ExchangeAccount.objects.get(pk=account.pk)
    with pytest.raises(CredentialKeyError, match="failed authentication"):
        reveal(loaded.api_key)
    assert reveal(loaded.api_secret) == API_SECRET
    r = alice_client.get(f"/api/accounts/{account.pk}")
    assert r.status_code == 200
    assert "failed authentication" in assert_masks_only(r)["credentials_error"]


@pytest.mark.parametrize(
    "change",
    [
        {"api_secret": "9E8D7C6B5A4F3E2D1C0B9A8F7E6D5C4B"},
        {"name": "renamed"},
        {"api_key": "okx-key-0123456789", "api_secret": "x" * 16},
    ],
    ids=["new secret", "rename", "some credentials replaced"],
)
def test_a_write_under_a_wrong_key_changes_nothing(alice, alice_client, settings, change):
    settings.ENCRYPTION_KEY = KEY_A
    account = okx_account(alice)
    before = raw_columns(account.pk)
    settings.ENCRYPTION_KEY = KEY_B  # the server restarted with the wrong key

    r = alice_client.patch(f"/api/accounts/{account.pk}", change, format="json")
    assert r.status_code == 503
    detail = assert_masks_only(r)["detail"]
    assert "ENCRYPTION_KEY" in detail
    assert "nothing was saved" in detail
    assert raw_columns(account.pk) == before
    assert ExchangeAccount.objects.get(pk=account.pk).name == "okx"

    settings.ENCRYPTION_KEY = KEY_A  # the right key is back: everything reads as before
    assert revealed(account.pk) == SECRETS
    shown = alice_client.get(f"/api/accounts/{account.pk}").json()
    assert shown["credentials_error"] is None
    assert shown["api_secret_masked"] == "****" + API_SECRET[-4:]


def test_one_unreadable_account_does_not_hide_the_others(alice, alice_client, settings):
    settings.ENCRYPTION_KEY = KEY_B
    lost = okx_account(alice, "written under another key")
    settings.ENCRYPTION_KEY = KEY_A
    fine = okx_account(alice, "fine")

    r = alice_client.get("/api/accounts")
    assert r.status_code == 200
    shown = {a["id"]: a for a in assert_masks_only(r)["results"]}
    assert set(shown) == {lost.pk, fine.pk}
    assert shown[fine.pk]["credentials_error"] is None
    assert shown[fine.pk]["api_key_masked"] == "****" + API_KEY[-4:]
    assert key_id(KEY_B) in shown[lost.pk]["credentials_error"]
    assert "ENCRYPTION_KEY" in shown[lost.pk]["credentials_error"]
    assert shown[lost.pk]["api_key_masked"] is None
    assert shown[lost.pk]["name"] == "written under another key"


def test_typing_every_credential_anew_repairs_an_unreadable_account(alice, alice_client, settings):
    settings.ENCRYPTION_KEY = KEY_B
    lost = okx_account(alice)
    settings.ENCRYPTION_KEY = KEY_A  # KEY_B is gone for good

    new = {"api_key": API_KEY[::-1], "api_secret": API_SECRET[::-1], "passphrase": PASSPHRASE[::-1]}
    r = alice_client.patch(f"/api/accounts/{lost.pk}", new, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["credentials_error"] is None
    assert revealed(lost.pk) == tuple(new.values())
    for value in raw_columns(lost.pk).values():
        assert value.startswith(f"v1:{key_id(KEY_A)}:")


# --- rotation -----------------------------------------------------------------------------------------------------


@pytest.fixture
def written_under_key_a(alice: User, bob: User, settings: Any) -> list[ExchangeAccount]:
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_OLD_KEYS = KEY_A, []
    kraken = make_account(bob, "kraken", "kraken", api_key=API_KEY, api_secret=API_SECRET)
    accounts = [okx_account(alice), kraken]
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_OLD_KEYS = KEY_B, [KEY_A]
    return accounts


def rotate(*args: str) -> str:
    out = StringIO()
    call_command("rotate_encryption_key", *args, stdout=out)
    return out.getvalue()


def test_rotation_re_encrypts_every_value_under_the_new_key(written_under_key_a, settings):
    output = rotate()
    assert "5 credential value(s) on 2 account(s)" in output
    assert key_id(KEY_B) in output
    for secret in SECRETS:
        assert secret not in output
    for account in written_under_key_a:
        for value in raw_columns(account.pk).values():
            assert not value or value.startswith(f"v1:{key_id(KEY_B)}:")

    settings.ENCRYPTION_OLD_KEYS = []  # the old key can go now
    okx, kraken = written_under_key_a
    assert revealed(okx.pk) == SECRETS
    assert revealed(kraken.pk) == (API_KEY, API_SECRET, "")
    assert "nothing to do" in rotate()


def test_a_dry_run_counts_and_changes_nothing(written_under_key_a):
    before = [raw_columns(account.pk) for account in written_under_key_a]
    output = rotate("--dry-run")
    assert "Dry run: 5 credential value(s) on 2 account(s)" in output
    assert [raw_columns(account.pk) for account in written_under_key_a] == before


def test_rotation_stops_before_writing_when_a_key_is_unknown(written_under_key_a, settings):
    settings.ENCRYPTION_OLD_KEYS = []
    before = [raw_columns(account.pk) for account in written_under_key_a]
    with pytest.raises(CommandError, match="ENCRYPTION_OLD_KEYS") as caught:
        rotate()
    assert key_id(KEY_A) in str(caught.value)
    assert [raw_columns(account.pk) for account in written_under_key_a] == before


def test_rotation_reports_a_damaged_value_as_a_command_error(written_under_key_a):
    okx = written_under_key_a[0]
    write_raw_column(okx.pk, "api_key", raw_columns(okx.pk)["api_secret"])
    with pytest.raises(CommandError, match="failed authentication"):
        rotate()


# --- logs ---------------------------------------------------------------------------------------------------------


def test_secrets_never_reach_the_logs(alice_client, caplog, settings):
    caplog.set_level(logging.DEBUG)
    url = "/api/accounts"
    created = alice_client.post(
        url,
        {"name": "okx", "exchange": "okx", "api_key": API_KEY, "api_secret": API_SECRET, "passphrase": PASSPHRASE},
        format="json",
    )
    assert created.status_code == 201
    account_url = f"{url}/{created.json()['id']}"
    assert alice_client.patch(account_url, {"api_secret": f" {API_SECRET}"}, format="json").status_code == 400
    bad_paper = {"name": "paper", "exchange": "paper", "paper_balances": {"USDT": "1"}, "api_key": API_KEY}
    assert alice_client.post(url, bad_paper, format="json").status_code == 400
    settings.ENCRYPTION_KEY = KEY_B
    assert alice_client.post(f"{account_url}/verify").status_code == 503

    assert caplog.records  # the failures were logged, which is what makes the check below mean something
    logged = caplog.text + "".join(repr(record.args) for record in caplog.records)
    for secret in SECRETS:
        assert secret not in logged


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("GET /api/v3/account?timestamp=1700000000000&apiKey=abc123XYZ&recvWindow=5000", "abc123XYZ"),
        ('{"api_secret": "xyz789secret", "name": "main"}', "xyz789secret"),
        ("{'secret': 'Qk9PTQ==', 'password': 'hunter2'}", "Qk9PTQ=="),
        ("{'secret': 'Qk9PTQ==', 'password': 'hunter2'}", "hunter2"),
        ("X-MBX-APIKEY: vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A", "vmPUZE6mv9SD5VNHk4Hl"),
        ("headers={'X-MBX-APIKEY': 'vmPUZE6mv9SD5VNH', 'Content-Type': 'application/json'}", "vmPUZE6mv9SD5VNH"),
        ("Authorization: Token ab_Zx81kLmNoPqRsTuV-w_yz0123456789abcdefg", "ab_Zx81kLmNoPqRsTuV"),
        ("Authorization: Bearer ab_Zx81kLmNoPqRsTuV", "ab_Zx81kLmNoPqRsTuV"),
        ("POST /api/v5/trade/order signature=9f86d081884c7d659a2feaa0c55ad015&passphrase=Correct-Horse-9", "9f86d08"),
        ("POST /api/v5/trade/order signature=9f86d081884c7d659a2feaa0c55ad015&passphrase=Correct-Horse-9", "Horse"),
        ("headers={'OK-ACCESS-KEY': 'okx-key-3f9c2a7e', 'OK-ACCESS-SIGN': 'c2lnbmF0dXJl'}", "okx-key-3f9c2a7e"),
        ("headers={'OK-ACCESS-KEY': 'okx-key-3f9c2a7e', 'OK-ACCESS-SIGN': 'c2lnbmF0dXJl'}", "c2lnbmF0dXJl"),
        ("{'passphrase': 'correct horse battery staple'}", "battery staple"),
    ],
)
def test_redact_scrubs_credentials_from_log_lines(line, secret):
    cleaned = redact(line)
    assert secret not in cleaned
    assert "[redacted]" in cleaned


def test_redact_leaves_ordinary_lines_alone():
    line = "placed grid_buy 0.002 BTC/USDT @ 64000.5 for strategy 'grid' (api latency 120 ms)"
    assert redact(line) == line


def test_the_log_filter_scrubs_a_record_before_it_is_written():
    record = logging.LogRecord("ccxt", logging.DEBUG, __file__, 1, "request %s", ("apiKey=abc123XYZ",), None)
    assert RedactSecretsFilter().filter(record)
    assert "abc123XYZ" not in record.getMessage()
