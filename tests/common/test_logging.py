"""JSON logs carry the request id and never a credential."""

from __future__ import annotations

import io
import json
import logging

from services.common.logging import (
    JsonFormatter,
    accept_request_id,
    bind_request_id,
    redact,
    reset_request_id,
)

SECRETS = [
    "tokenmart_" + "A1b2C3d4E5f6G7h8I9j0" * 2,
    "th_" + "Zz9" * 15,
    "thm_" + "Qq8" * 15,
    "tms_" + "k" * 40,
    "tmr_" + "r" * 40,
    "tmid_" + "i" * 40,
    "tmc_" + "c" * 40,
    "sk-proj-" + "p" * 40,
    "Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----",
]


def test_every_secret_shape_is_redacted() -> None:
    for secret in SECRETS:
        scrubbed = redact(f"value={secret} end")
        assert secret not in scrubbed
        assert "[redacted]" in scrubbed


def test_records_are_json_with_request_id_and_scrubbed_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("wallet"))
    logger = logging.getLogger("tests.logging")
    logger.addHandler(handler)
    logger.propagate = False
    token = bind_request_id("req-123")
    try:
        logger.warning("key %s used", SECRETS[1], extra={"header": SECRETS[7], "count": 3})
    finally:
        reset_request_id(token)
        logger.removeHandler(handler)
    entry = json.loads(stream.getvalue())
    assert entry["service"] == "wallet"
    assert entry["request_id"] == "req-123"
    assert entry["count"] == 3
    assert SECRETS[1] not in entry["msg"]
    assert SECRETS[7] not in entry["header"]


def test_request_ids_from_callers_are_kept_only_when_well_formed() -> None:
    assert accept_request_id("abc-123_DEF:9.1") == "abc-123_DEF:9.1"
    for bad in (None, "", "has space", "x" * 129, "new\nline", "é"):
        minted = accept_request_id(bad)
        assert minted != bad
        assert len(minted) == 24
