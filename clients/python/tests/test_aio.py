"""pipebus.aio: the same calls, awaited."""
import asyncio

import pytest

import pipebus
import pipebus.aio
from pipebus import RPCError, StatusCode


def run(coroutine):
    return asyncio.run(coroutine)


def test_aio_calls(sidecar):
    async def main():
        async with pipebus.aio.connect(worker=sidecar.worker, root=sidecar.root) as client:
            assert (await client.health()).status == pipebus.SERVING
            ids = await asyncio.gather(*(client.submit({"n": n}) for n in range(20)))
            assert len(set(ids)) == 20
            listed = {task.id for task in await client.tasks("pending")}
            assert set(ids) <= listed
            async with client.watch_health() as watch:
                async for response in watch:
                    assert response.status == pipebus.SERVING
                    break
            with pytest.raises(RPCError) as caught:
                await client.get("missing")
            assert caught.value.code == StatusCode.NOT_FOUND

    run(main())


def test_aio_cancelling_the_task_cancels_the_stream(sidecar):
    async def main():
        async with pipebus.aio.connect(worker=sidecar.worker, root=sidecar.root) as client:
            events = client.events()

            async def consume():
                async for _ in events:
                    pass

            task = asyncio.ensure_future(consume())
            await asyncio.sleep(0.5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert (await client.health()).status == pipebus.SERVING

    run(main())
