"""Client messages of the live socket (app.api.live): what the protocol defines, and the
4400 close for everything else, bounded before parsing on every interpreter."""

from __future__ import annotations

import pytest

from app.api.live import MAX_MESSAGE_DEPTH, CloseCode, _Close, _parse

LIMIT = 16 * 1024


def test_a_message_within_the_depth_is_parsed() -> None:
    message = '{"type": "ping", "a": {"b": {"c": []}}}'  # 4 levels
    assert _parse(message, max_bytes=LIMIT)["type"] == "ping"


@pytest.mark.parametrize(
    "message",
    [
        '{"type": "ping", "a": {"b": {"c": {"d": {}}}}}',  # 5 levels
        "[" * 5000 + "]" * 5000,
        '{"type": "ping", "a": ' + "[" * 5000 + "]" * 5000 + "}",
    ],
    ids=["five levels", "5000 arrays", "5000 arrays in a ping"],
)
def test_a_message_nested_too_deeply_closes_4400_whatever_the_interpreter(
    message: str, parser_as_deep_as_python_313: None
) -> None:
    with pytest.raises(_Close) as closed:
        _parse(message, max_bytes=LIMIT)
    assert closed.value.code is CloseCode.BAD_MESSAGE
    assert "nested too deeply" in closed.value.reason
    assert MAX_MESSAGE_DEPTH == 4
