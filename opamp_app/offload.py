"""Heavy OpAMP work off the event loop, for large messages only.

A WebSocket heartbeat is a few dozen bytes: checking, parsing and processing it on the event
loop costs microseconds, less than a hop to a worker thread and back. A large report (a health
tree, a component map, an effective config) may cost milliseconds of Python; done on the loop,
every other connection of the process waits meanwhile. So the transports hand messages of at
least FLOWGATE_OPAMP_THREAD_BYTES to a worker thread, whose Python code the interpreter
interleaves with the loop's. (The protobuf parser itself holds the GIL whatever thread runs it:
opamp_core.bounds keeps what reaches it small.)
"""

from asgiref.sync import sync_to_async


async def run(large: bool, function, *args, **kwargs):
    """function(*args, **kwargs): in a worker thread when `large`, else here and now."""
    if not large:
        return function(*args, **kwargs)
    return await sync_to_async(function, thread_sensitive=False)(*args, **kwargs)
