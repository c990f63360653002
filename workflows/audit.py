"""Tamper-evident event log: canonical JSON, SHA-256 hash chain, and chain verification.

Each log row stores `prev_hash` (the previous row's hash, or GENESIS for the first) and
`hash = sha256(prev_hash + canonical_json(body))`, where the body is every other field of the row.  Changing,
deleting or reordering any row breaks the chain at that row; `verify_chain` names it.

Canonical JSON must give the same bytes for the same record forever, on any machine: keys sorted, no
whitespace, UTF-8 text kept as is (ensure_ascii=False, so 城管 is hashed as written), datetimes as ISO-8601 in
UTC with a trailing Z, dates as ISO, Decimals as strings, tuples as lists.  Naive datetimes, NaN and types
with no stable text are refused rather than guessed at.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import json
import math
import uuid
from collections.abc import Iterable, Mapping

GENESIS = "0" * 64
HASH_FIELDS = ("prev_hash", "hash")


_PLAIN = frozenset({type(None), bool, str, int})


def _normalise(value):
    kind = type(value)
    if kind in _PLAIN:  # the common case, without walking the isinstance chain below
        return value
    if kind is dict:
        return _normalise_mapping(value)
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("NaN and infinity have no canonical JSON form")
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} is ambiguous; use an aware one")
        utc = value.astimezone(dt.timezone.utc)
        return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return _normalise(value.value)
    if isinstance(value, Mapping):
        return _normalise_mapping(value)
    if isinstance(value, (list, tuple)):
        return [_normalise(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_normalise(item) for item in value)
    raise TypeError(f"no canonical JSON form for {type(value).__name__}")


def _normalise_mapping(value: Mapping) -> dict:
    out = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"record keys must be strings, got {key!r}")
        out[key] = _normalise(item)
    return out


def canonical_json(record: Mapping) -> str:
    """The one text form of `record` that is hashed."""
    return json.dumps(_normalise(record), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def chain_hash(prev_hash: str, record: Mapping) -> str:
    """SHA-256 hex of prev_hash followed by the canonical JSON of the record body."""
    if not isinstance(prev_hash, str) or len(prev_hash) != 64:
        raise ValueError("prev_hash must be a 64-character hex digest")
    return hashlib.sha256((prev_hash + canonical_json(record)).encode("utf-8")).hexdigest()


def body_of(record: Mapping) -> dict:
    """The hashed part of a stored record: everything except prev_hash and hash."""
    return {k: v for k, v in record.items() if k not in HASH_FIELDS}


def seal(prev_hash: str, body: Mapping) -> dict:
    """A record ready to store: the body plus its prev_hash and hash."""
    body = dict(body)
    if set(body) & set(HASH_FIELDS):
        raise ValueError("the body must not carry prev_hash or hash")
    return {**body, "prev_hash": prev_hash, "hash": chain_hash(prev_hash, body)}


def verify_chain(records: Iterable[Mapping], genesis: str = GENESIS) -> int | None:
    """Index of the first record whose link or hash is wrong, or None when the whole chain holds.

    `records` are in chain order; pass the hash before the first one as `genesis` to verify a suffix."""
    expected_prev = genesis
    for index, record in enumerate(records):
        stored_prev, stored_hash = record.get("prev_hash"), record.get("hash")
        if stored_prev != expected_prev:
            return index
        try:
            if chain_hash(stored_prev, body_of(record)) != stored_hash:
                return index
        except (TypeError, ValueError):
            return index
        expected_prev = stored_hash
    return None
