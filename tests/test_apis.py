"""The API table is the one source of per-API rules: every reader agrees with it."""

from __future__ import annotations

import pytest

from loadgen.apis import APIS, RULES, SEGMENT, SEGMENT_MAX_MESSAGE_ID, credential_keys
from loadgen.inputs.models import MAX_BATCH_SIZE
from loadgen.mock import segment as mock_segment
from loadgen.scenarios.api_format import SERIAL_STRIDE, Ids, RecordError
from loadgen.scenarios.scenario_set import FORMATS
from loadgen.scenarios.segment import Segment


def test_every_api_in_the_table_has_one_builder() -> None:
    assert set(FORMATS) == set(RULES) == set(APIS)


def test_credentials_come_from_the_table() -> None:
    assert credential_keys("customerio") == ("site_id", "api_key")
    assert credential_keys("nope") == ()


def test_the_serial_stride_is_the_largest_batch() -> None:
    assert SERIAL_STRIDE == MAX_BATCH_SIZE


def test_the_mock_applies_the_table_batch_cap() -> None:
    assert SEGMENT.payload_limits("v1", "batch").batch_events == mock_segment.MAX_BATCH_EVENTS


@pytest.mark.parametrize(
    ("length", "accepted"),
    [
        (SEGMENT_MAX_MESSAGE_ID, True),  # 99: the longest APIS.md allows ("< 100 chars")
        (SEGMENT_MAX_MESSAGE_ID + 1, False),  # 100: what the mock accepted before
    ],
)
def test_replay_messageid_limit_is_the_table_one(length: int, accepted: bool) -> None:
    fmt = Segment({"write_key": "wk"}, Ids(1))
    record = {"type": "track", "userId": "u1", "event": "x", "messageId": "m" * length}
    if accepted:
        assert fmt.passthrough(record, 0.0, 1) is not None
    else:
        with pytest.raises(RecordError, match="under 100 characters"):
            fmt.passthrough(record, 0.0, 1)
