"""The live view's channel layer (real Redis) keeps an idle subscriber alive.

A class can go minutes without a processed frame. With redis-py's default 5 s read timeout
equal to channels_redis' 5 s blocking pop, every idle live-view socket died after ~5 s and
summaries pushed while it reconnected were lost.
"""

from __future__ import annotations

import asyncio
import time

import redis.exceptions
from channels.layers import get_channel_layer

IDLE_S = 6.5  # longer than channels_redis' 5 s BZPOPMIN and redis-py's 5 s default read timeout


def test_an_idle_receive_outlives_the_blocking_pop_and_still_gets_the_next_message() -> None:
    layer = get_channel_layer()
    assert layer is not None

    async def idle_then_deliver() -> tuple[BaseException | None, dict[str, str]]:
        channel = await layer.new_channel()
        # given a subscriber waiting with nothing to receive for longer than one blocking pop
        failure: BaseException | None = None
        started = time.monotonic()
        try:
            await asyncio.wait_for(layer.receive(channel), IDLE_S)
        except redis.exceptions.RedisError as exc:
            failure = exc
        except TimeoutError:
            # wait_for gave up as planned (redis' own TimeoutError is a RedisError, caught above)
            assert time.monotonic() - started >= IDLE_S - 0.5
        # when a summary arrives afterwards, then it is received
        await layer.send(channel, {"type": "session.summary", "summary": "after idle"})
        message = await asyncio.wait_for(layer.receive(channel), 5)
        return failure, message

    failure, message = asyncio.run(idle_then_deliver())
    assert failure is None, f"the channel layer broke while idle: {failure!r}"
    assert message["summary"] == "after idle"
