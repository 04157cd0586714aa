"""What a ciphertext and a wrapped key are bound to, checked one part at a time.

The API-level tests copy ciphertexts between tenants, events and fields; there,
the data keys differ too. Here the key is the same and only one part of the
associated data changes, so each binding is proven on its own.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from encryption import envelope, master
from logs.fields import EVENT_FIELDS

PLACE = {"tenant_id": "tenant-a", "event_id": "e1", "field": "before", "version": 1}


@pytest.mark.parametrize(
    "moved",
    [
        {"tenant_id": "tenant-b"},
        {"event_id": "e2"},
        {"field": "after"},
        {"version": 2},
    ],
)
def test_a_ciphertext_opens_only_in_its_own_place(moved):
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    token = envelope.seal(aead, 1, b'{"card": "4111"}', envelope.associated_data(**PLACE))
    assert envelope.open_sealed(aead, token, envelope.associated_data(**PLACE)) == (
        b'{"card": "4111"}'
    )
    with pytest.raises(envelope.Unopenable):
        envelope.open_sealed(aead, token, envelope.associated_data(**{**PLACE, **moved}))


def test_a_wrapped_data_key_unwraps_only_for_its_tenant_and_version(settings):
    data_key = AESGCM.generate_key(bit_length=256)
    wrapped, by = master.wrap(data_key, "tenant-a", 1)
    assert master.unwrap(wrapped, by, "tenant-a", 1) == data_key
    for tenant, version in (("tenant-b", 1), ("tenant-a", 2)):
        with pytest.raises(master.MasterKeyError):
            master.unwrap(wrapped, by, tenant, version)


@pytest.mark.parametrize("token", ["\x01v1.", "\x01v1.x.AAAA", "\x01v2.1.AAAA", "plain"])
def test_a_malformed_header_is_refused(token):
    with pytest.raises(envelope.Unopenable):
        envelope.version_of(token)


@pytest.mark.parametrize("body", ["!!", "AAAA", ""])
def test_a_malformed_or_truncated_body_is_refused(body):
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    with pytest.raises(envelope.Unopenable):
        envelope.open_sealed(aead, f"\x01v1.1.{body}", b"")


def test_the_search_index_never_gets_the_always_encrypted_fields():
    from encryption.policy import ALWAYS
    from logs.search import documents

    assert set(ALWAYS) <= set(EVENT_FIELDS)
    assert not set(ALWAYS) & set(documents.indexed_fields())
    assert not set(ALWAYS) & set(documents.mappings()["properties"])
