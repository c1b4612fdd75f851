"""Pattern matching on events (`match` needs Python 3.10; conftest skips this file on 3.9)."""
from pushwire import CloseConnection, TextMessage
from pushwire.sse import ServerSentEvent


def test_match_args():
    match TextMessage("hi", False):
        case TextMessage(data, finished):
            assert (data, finished) == ("hi", False)
    match CloseConnection(1000, "bye"):
        case CloseConnection(code=1000, reason=r):
            assert r == "bye"
    match ServerSentEvent("x", "up"):
        case ServerSentEvent(data, type="up"):
            assert data == "x"
