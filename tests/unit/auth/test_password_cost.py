"""Password hashes are argon2id at OWASP's minimum: quick enough for a busy two-core box."""

from __future__ import annotations

from argon2 import PasswordHasher

from stocks_api.auth.security import (
    dummy_password_hash,
    hash_password,
    password_matches,
    password_needs_rehash,
)


def test_new_hashes_use_19_mib_two_passes_and_one_lane() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert password_matches("correct horse battery", hashed)
    assert not password_needs_rehash(hashed)


def test_a_hash_of_older_parameters_still_verifies_and_asks_to_be_made_again() -> None:
    old = PasswordHasher().hash("correct horse battery")  # argon2-cffi's default: 64 MiB, t=3
    assert password_matches("correct horse battery", old)
    assert password_needs_rehash(old)
    assert not password_needs_rehash("not a hash")


def test_the_dummy_check_costs_what_the_real_users_hash_costs() -> None:
    old = PasswordHasher().hash("correct horse battery")  # e.g. an older AUTH_PASSWORD_HASH
    dummy = dummy_password_hash(old)
    assert dummy.rsplit("$", 2)[0] == old.rsplit("$", 2)[0]  # same algorithm and cost
    assert dummy_password_hash(old) is dummy  # made once
    assert dummy_password_hash().startswith("$argon2id$v=19$m=19456,t=2,p=1$")
