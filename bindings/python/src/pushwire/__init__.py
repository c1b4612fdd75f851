"""pushwire: sans-IO WebSocket (RFC 6455) and Server-Sent Events over a C++ core.

pushwire never touches a socket. Feed it the bytes you read, iterate the events it finds,
and write the bytes it queues::

    conn = pushwire.ServerConnection(subprotocols=["chat"])
    conn.receive_data(data)                  # bytes from the transport (None at EOF)
    for event in conn.events():
        if isinstance(event, pushwire.Request):
            conn.accept()
        elif isinstance(event, pushwire.TextMessage):
            conn.send_text(event.data)
        elif isinstance(event, pushwire.CloseConnection):
            ...                              # the answering close is already queued
    transport.write(conn.data_to_send())

Events are immutable value objects (compare, hash, pickle, pattern-match) built in C, one
Python call per read however many frames it holds. Errors: LocalProtocolError (you misused
the API) and RemoteProtocolError (the peer broke the protocol; .close_code / .status_hint
say what to answer), both ProtocolError. A peer's violation first shows up as a
CloseConnection (or Rejected) event, with the answer already queued (auto_close).

Server-Sent Events live in pushwire.sse (encode, SSEWriter, SSEParser).

Threading: a connection must be used by one thread at a time; overlapping calls raise
LocalProtocolError instead of corrupting state. Different connections are independent.
"""
import enum
from typing import Callable, Iterable, Optional, Sequence, Tuple, Union

from . import _pushwire
from ._pushwire import (
    Accepted,
    BytesMessage,
    CloseConnection,
    Event,
    LocalProtocolError,
    Message,
    Ping,
    Pong,
    ProtocolError,
    Rejected,
    RemoteProtocolError,
    Request,
    TextMessage,
    WSConnection,
)
from . import sse
from .sse import SSEParser, SSEWriter, ServerSentEvent

__version__ = _pushwire.version

__all__ = [
    "Accepted", "BytesMessage", "ClientConnection", "CloseConnection", "ConnectionState", "Event",
    "LocalProtocolError", "Message", "Ping", "Pong", "ProtocolError", "Rejected", "RemoteProtocolError",
    "Request", "SSEParser", "SSEWriter", "ServerConnection", "ServerSentEvent", "TextMessage", "WSConnection",
    "sse", "__version__",
]

Header = Tuple[Union[str, bytes], Union[str, bytes]]
MiB = 1 << 20


class ConnectionState(enum.IntEnum):
    """Where a connection stands (the core's pushwire_ws_state)."""

    HANDSHAKE = 0  #: the opening handshake is under way
    OPEN = 1  #: messages flow both ways
    CLOSING = 2  #: one side has sent its close
    CLOSED = 3  #: both sides closed, or the handshake was refused: drain output, drop the transport
    FAILED = 4  #: the receive side failed: drain output (the close) and drop the transport


class _Connection(WSConnection):
    __slots__ = ()

    @property
    def state(self) -> ConnectionState:
        """The connection state, a ConnectionState."""
        return ConnectionState(self.state_value)

    def __repr__(self) -> str:
        return "<%s %s %s>" % (type(self).__name__, self.role, self.state.name)


class ServerConnection(_Connection):
    """The server side of a WebSocket connection.

    With the handshake on (the default), the first event is a Request: answer it with
    accept() or reject() (or set auto_accept=True). Every option of the core is a keyword
    argument with the core's default:

    - subprotocols: the server's preference list; origins: an Origin allow-list
      ("https://example.com" or "https://*.example.com"; empty accepts every origin);
      require_origin: refuse requests without Origin when an allow-list is set;
      extra_headers: (name, value) pairs added to the 101 response.
    - max_message_size (16 MiB, all fragments; close 1009 past it), max_frame_size
      (16 MiB), max_fragments (4096; close 1008), max_head_size (16384; 431),
      max_headers (64), max_input_buffer (4 MiB of unparsed input), max_output_buffer
      (64 MiB; a send past it raises LocalProtocolError BUFFER_FULL).
    - auto_pong: answer pings; auto_close: answer a close, and queue the close frame
      (or 4xx response) for a peer's violation; streaming: hand out message data as it
      arrives (message_finished=False until the last chunk); validate_outgoing_utf8:
      refuse to send invalid text.
    - handshake=False starts OPEN, for servers whose HTTP layer did the upgrade.
    - ping_interval_ms / pong_timeout_ms: keepalive, driven by tick(now_ms).
    - random: a callable n -> n bytes replacing the OS CSPRNG (for tests).
    """

    __slots__ = ()

    def __init__(
        self,
        *,
        subprotocols: Sequence[str] = (),
        origins: Sequence[str] = (),
        extra_headers: Iterable[Header] = (),
        max_message_size: int = 16 * MiB,
        max_frame_size: int = 16 * MiB,
        max_fragments: int = 4096,
        max_head_size: int = 16384,
        max_headers: int = 64,
        max_input_buffer: int = 4 * MiB,
        max_output_buffer: int = 64 * MiB,
        auto_pong: bool = True,
        auto_close: bool = True,
        streaming: bool = False,
        ping_interval_ms: int = 0,
        pong_timeout_ms: int = 0,
        handshake: bool = True,
        auto_accept: bool = False,
        require_origin: bool = False,
        validate_outgoing_utf8: bool = True,
        random: Optional[Callable[[int], bytes]] = None,
    ) -> None:
        super().__init__(
            "server", subprotocols=subprotocols, origins=origins, extra_headers=extra_headers,
            max_message_size=max_message_size, max_frame_size=max_frame_size, max_fragments=max_fragments,
            max_head_size=max_head_size, max_headers=max_headers, max_input_buffer=max_input_buffer,
            max_output_buffer=max_output_buffer, auto_pong=auto_pong, auto_close=auto_close, streaming=streaming,
            ping_interval_ms=ping_interval_ms, pong_timeout_ms=pong_timeout_ms, handshake=handshake,
            auto_accept=auto_accept, require_origin=require_origin,
            validate_outgoing_utf8=validate_outgoing_utf8, random=random)


class ClientConnection(_Connection):
    """The client side of a WebSocket connection.

    Given a host, the opening request for host and target is queued at once (read it
    with data_to_send()); otherwise call start(host, target) or send(Request(...)). The
    first event is Accepted (with the agreed subprotocol) or Rejected. subprotocols are
    offered in order; extra_headers (e.g. ("Origin", ...)) go into the request. The other
    options are those of ServerConnection, with the same defaults.
    """

    __slots__ = ()

    def __init__(
        self,
        host: Optional[str] = None,
        target: str = "/",
        *,
        subprotocols: Sequence[str] = (),
        extra_headers: Iterable[Header] = (),
        max_message_size: int = 16 * MiB,
        max_frame_size: int = 16 * MiB,
        max_fragments: int = 4096,
        max_head_size: int = 16384,
        max_headers: int = 64,
        max_input_buffer: int = 4 * MiB,
        max_output_buffer: int = 64 * MiB,
        auto_pong: bool = True,
        auto_close: bool = True,
        streaming: bool = False,
        ping_interval_ms: int = 0,
        pong_timeout_ms: int = 0,
        handshake: bool = True,
        validate_outgoing_utf8: bool = True,
        random: Optional[Callable[[int], bytes]] = None,
    ) -> None:
        super().__init__(
            "client", host=host, target=target if host is not None else None, subprotocols=subprotocols,
            extra_headers=extra_headers, max_message_size=max_message_size, max_frame_size=max_frame_size,
            max_fragments=max_fragments, max_head_size=max_head_size, max_headers=max_headers,
            max_input_buffer=max_input_buffer, max_output_buffer=max_output_buffer, auto_pong=auto_pong,
            auto_close=auto_close, streaming=streaming, ping_interval_ms=ping_interval_ms,
            pong_timeout_ms=pong_timeout_ms, handshake=handshake,
            validate_outgoing_utf8=validate_outgoing_utf8, random=random)
