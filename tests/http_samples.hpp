// Sample heads shared by the HTTP and handshake tests.
#pragma once

// RFC 6455 §1.3 opening request (with the §4.2.1 version field); its key gives the
// accept value s3pPLMBiTxaQ9kYGzzhZRbK+xOo=.
static const char kRfcRequest[] =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

// The server's answer to kRfcRequest choosing "chat" (RFC 6455 §1.3, Protocol added).
static const char kRfcResponse[] =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "Sec-WebSocket-Protocol: chat\r\n"
    "\r\n";
