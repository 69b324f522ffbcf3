"""Envelope crypto primitives: sealing, binding, master keys, blind index."""

import base64

import pytest
from django.core.exceptions import ImproperlyConfigured

from memoryhub.crypto import (
    DecryptionError,
    blind_tokens,
    content_mac,
    new_data_key,
    normalize_content,
    open_sealed,
    peek_key_id,
    seal,
)
from memoryhub.crypto.keys import MasterKeyRing


def test_seal_round_trips_and_names_its_key():
    key = new_data_key()
    blob = seal(key, "v3", b"secret text", b"memory:1:s:content")
    assert b"secret text" not in blob
    assert peek_key_id(blob) == "v3"
    assert open_sealed(key, blob, b"memory:1:s:content") == b"secret text"


def test_ciphertext_bound_to_another_row_fails_clearly():
    key = new_data_key()
    blob = seal(key, "v1", b"x", b"memory:1:s:content")
    with pytest.raises(DecryptionError, match="does not belong to this row"):
        open_sealed(key, blob, b"memory:2:s:content")


def test_tampered_header_fails():
    key = new_data_key()
    blob = bytearray(seal(key, "v1", b"x", b"aad"))
    blob[4] = ord("w")  # key id "v1" -> "w1"
    with pytest.raises(DecryptionError):
        open_sealed(key, bytes(blob), b"aad")


def test_garbage_is_rejected_with_a_message():
    with pytest.raises(DecryptionError, match="bad header"):
        open_sealed(new_data_key(), b"plain old bytes", b"aad")
    with pytest.raises(DecryptionError, match="truncated"):
        open_sealed(new_data_key(), b"MH\x01\x02v1abc", b"aad")


def test_master_keyring_parses_order_and_rejects_bad_entries():
    k1 = base64.urlsafe_b64encode(b"\x01" * 32).decode()
    k2 = base64.urlsafe_b64encode(b"\x02" * 32).decode().rstrip("=")
    ring = MasterKeyRing.parse(f"new:{k2}, old:{k1}")
    assert ring.primary_id == "new"
    assert set(ring.keys) == {"new", "old"}
    with pytest.raises(ImproperlyConfigured, match="32 bytes"):
        MasterKeyRing.parse("a:" + base64.urlsafe_b64encode(b"short").decode())
    with pytest.raises(ImproperlyConfigured, match="id:base64key"):
        MasterKeyRing.parse("nokey")
    with pytest.raises(ImproperlyConfigured, match="duplicate"):
        MasterKeyRing.parse(f"a:{k1},a:{k1}")
    with pytest.raises(ImproperlyConfigured, match="holds no key"):
        MasterKeyRing.parse(" , ")


def test_content_mac_ignores_case_and_spacing_but_depends_on_key():
    key = new_data_key()
    assert content_mac(key, "Likes  Tea") == content_mac(key, "likes tea ")
    assert content_mac(key, "likes tea") != content_mac(key, "likes coffee")
    assert content_mac(key, "likes tea") != content_mac(new_data_key(), "likes tea")
    assert normalize_content("  A\tB ") == "a b"


def test_blind_tokens_hide_words_and_match_stems():
    key = new_data_key()
    tokens = blind_tokens(key, "She loves hiking in the Alps")
    assert all(t.startswith("t") and len(t) == 17 for t in tokens)
    assert "hiking" not in " ".join(tokens)
    assert set(blind_tokens(key, "hikes")) <= set(tokens)  # stem "hik"
    assert blind_tokens(key, "the of and") == []  # stopwords only
    assert blind_tokens(new_data_key(), "hiking") != blind_tokens(key, "hiking")
