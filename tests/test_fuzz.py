"""Fuzzing from the published contract (tests/support/fuzzing.py), over the in-process local
host with the real PostgreSQL and Azurite: in local mode, and in production mode behind App
Service Authentication with a Vouch secret. Any 5xx, answer outside the document, error
not in the contract's shape or answer slower than 5 s (twice) fails the test, naming each.

NACHET_FUZZ_EXAMPLES sets the requests per mode (150 here); the README gives the long run."""

from __future__ import annotations

import pytest

from shared import settings
from tests.conftest import Client, assert_error
from tests.support import hostile
from tests.support.fuzzing import Fuzzer, World, examples_per_mode

VOUCH_SECRET = "vouch-secret-for-the-fuzzer-" + "0123456789abcdef" * 3  # HS512 wants 64 bytes


@pytest.mark.parametrize("mode", ["local", "production"])
def test_fuzz(app, monkeypatch, mode):
    if mode == "local":
        monkeypatch.setenv("NACHET_ENV", "local")
        monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "false")
        secret = None
    else:
        monkeypatch.setenv("NACHET_VOUCH_JWT_SECRET", VOUCH_SECRET)
        secret = VOUCH_SECRET
    settings.reset()
    fuzzer = Fuzzer(app.base_url, World(app, local=mode == "local"), vouch_secret=secret)
    fuzzer.run(examples_per_mode())
    print(f"\n{mode} mode: {fuzzer.report()}")
    assert not fuzzer.findings, fuzzer.report()


# What the fuzzer found, each kept as a plain test.

@pytest.mark.parametrize("email", ["\ud800@example.org", "a\u202e@example.org", "a\x1b@example.org"])
def test_principal_email_that_cannot_be_stored_is_401(app, email):
    # Was a 500: a lone surrogate passed the email check and failed in the database driver.
    header = hostile.principal_header({"claims": [{"typ": "email", "val": email}]})
    r = Client(app.base_url, None).get("seeds", headers={"X-MS-CLIENT-PRINCIPAL": header})
    assert_error(r, 401, "no email claim")
    assert app.sql("SELECT count(*) FROM users") == [(0,)]
