"""Server-Sent Events (text/event-stream): an encoder, a writer and a browser-exact parser.

Server side::

    head = pushwire.sse.response_head()        # or response_headers() for your own HTTP layer
    transport.write(head + pushwire.sse.encode(data="hello", event="greeting", id="1"))

Client side::

    parser = pushwire.sse.SSEParser()
    for event in parser.feed(chunk):           # any chunking
        print(event.type, event.data, event.last_event_id)
    headers = parser.reconnect_headers()       # Accept, Cache-Control, Last-Event-ID

Same rules and limits as the core: data split on CR LF, LF and CR on the way out; on the
way in, UTF-8 decoded as a browser does, lines of at most max_line bytes and events of at
most max_event bytes (RemoteProtocolError past them).
"""
from typing import Iterable, List, Tuple, Union

from ._pushwire import Comment, Retry, SSEParser, SSEWriter, ServerSentEvent, encode

__all__ = ["Comment", "Retry", "SSEParser", "SSEWriter", "ServerSentEvent", "encode", "response_head",
           "response_headers"]

Header = Tuple[Union[str, bytes], Union[str, bytes]]


def response_head(headers: Iterable[Header] = ()) -> bytes:
    """The complete HTTP/1.1 200 response head of an event stream, with `headers` added.

    It has no Content-Length: the stream ends when the connection closes.
    """
    w = SSEWriter()
    w.response_head(headers)
    return w.data_to_send()


def response_headers(headers: Iterable[Header] = ()) -> List[Tuple[str, str]]:
    """The response header fields of an event stream as (name, value) pairs, for an HTTP
    layer that writes its own head (ASGI, aiohttp, ...): Content-Type, Cache-Control and
    X-Accel-Buffering, then `headers`."""
    lines = response_head(headers).decode("latin-1").split("\r\n")[1:]
    return [tuple(line.split(": ", 1)) for line in lines if line]  # type: ignore[misc]


