"""Helpers for the WebSocket API tests: a connected server/client pair and raw frames."""
import os

import pushwire

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def request(target="/chat", extra=b"", key=RFC_KEY):
    return (b"GET " + target.encode() + b" HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key.encode() + b"\r\n"
            b"Sec-WebSocket-Version: 13\r\n" + extra + b"\r\n")


def masked(opcode_byte, payload, key=b"\x37\xfa\x21\x3d"):
    n = len(payload)
    if n < 126:
        head = bytes([opcode_byte, 0x80 | n])
    elif n < 65536:
        head = bytes([opcode_byte, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([opcode_byte, 0x80 | 127]) + n.to_bytes(8, "big")
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def unmasked(opcode_byte, payload):
    n = len(payload)
    if n < 126:
        return bytes([opcode_byte, n]) + payload
    if n < 65536:
        return bytes([opcode_byte, 126]) + n.to_bytes(2, "big") + payload
    return bytes([opcode_byte, 127]) + n.to_bytes(8, "big") + payload


def pump(a, b):
    """Moves queued bytes both ways until quiet; returns the events each side saw."""
    ea, eb = [], []
    for _ in range(20):
        moved = False
        out = a.data_to_send()
        if out:
            b.receive_data(out)
            moved = True
        out = b.data_to_send()
        if out:
            a.receive_data(out)
            moved = True
        ea += list(a.events())
        eb += list(b.events())
        if not moved:
            break
    return ea, eb


def open_pair(server_kw=None, client_kw=None, subprotocols=()):
    """A server and a client with the handshake done (the server accepts)."""
    server = pushwire.ServerConnection(**(server_kw or {}))
    client = pushwire.ClientConnection("example.com", "/chat", subprotocols=subprotocols, **(client_kw or {}))
    server.receive_data(client.data_to_send())
    evs = list(server.events())
    assert isinstance(evs[0], pushwire.Request), evs
    server.accept()
    client.receive_data(server.data_to_send())
    evs = list(client.events())
    assert isinstance(evs[0], pushwire.Accepted), evs
    return server, client


def open_server(**kw):
    """A server that starts OPEN (handshake=False) and its received events."""
    kw.setdefault("handshake", False)
    return pushwire.ServerConnection(**kw)


def feed(conn, data):
    conn.receive_data(data)
    return list(conn.events())


__all__ = ["RFC_KEY", "RFC_ACCEPT", "request", "masked", "unmasked", "pump", "open_pair", "open_server", "feed",
           "os"]
