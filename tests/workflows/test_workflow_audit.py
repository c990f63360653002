import datetime as dt
import decimal
import math
import uuid

import pytest

from workflows.audit import GENESIS, canonical_json, chain_hash, seal, verify_chain


def test_canonical_json_is_stable_and_readable():
    a = {"b": 1, "a": "城管", "at": dt.datetime(2025, 1, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))}
    b = {"at": dt.datetime(2025, 1, 1, 0, 0, tzinfo=dt.timezone.utc), "a": "城管", "b": 1}
    assert canonical_json(a) == canonical_json(b) == '{"a":"城管","at":"2025-01-01T00:00:00.000000Z","b":1}'
    assert canonical_json({"d": dt.date(2025, 1, 2), "n": decimal.Decimal("1.50"), "t": (1, 2),
                           "s": {3, 1}, "u": uuid.UUID(int=1), "x": None}) == (
        '{"d":"2025-01-02","n":"1.50","s":[1,3],"t":[1,2],"u":"00000000-0000-0000-0000-000000000001","x":null}')


@pytest.mark.parametrize("bad", [{"at": dt.datetime(2025, 1, 1)}, {"x": math.nan}, {1: "int key"},
                                 {"o": object()}])
def test_values_without_a_stable_form_are_refused(bad):
    with pytest.raises((TypeError, ValueError)):
        canonical_json(bad)


def test_chain_hash_is_sha256_over_prev_and_body():
    import hashlib
    body = {"action": "register"}
    assert chain_hash(GENESIS, body) == hashlib.sha256((GENESIS + '{"action":"register"}').encode()).hexdigest()
    with pytest.raises(ValueError):
        chain_hash("short", body)


def test_verify_chain_names_the_first_broken_record():
    log, prev = [], GENESIS
    for i in range(5):
        rec = seal(prev, {"seq": i, "note": "督办" * i})
        log.append(rec)
        prev = rec["hash"]
    assert verify_chain(log) is None and verify_chain([]) is None
    assert verify_chain(log[2:], genesis=log[1]["hash"]) is None
    tampered = [dict(r) for r in log]
    tampered[3]["note"] = "changed"
    assert verify_chain(tampered) == 3
    tampered = [dict(r) for r in log]
    tampered[2]["hash"] = "f" * 64
    assert verify_chain(tampered) == 2
    tampered = [dict(r) for r in log]
    tampered[0]["prev_hash"] = "1" * 64
    assert verify_chain(tampered) == 0
    with pytest.raises(ValueError):
        seal(GENESIS, {"hash": "x"})
