"""Who gets a session and what keeps it: claims, token checks, and noting a controller's commands.

Claims: a session id and token handed out before the session exists.

Opening the app page must not cost the server a session: another site's page can make a
browser fetch it hundreds of times (`<img src="http://lab:8000/">`). So the page gets an id
and a token that only *entitle* it to a session, which is made when its websocket connects
with them. The token carries the entitlement: random bytes, an expiry and an HMAC of those and
the id under a secret of this process, so the page and the wire need nothing new and no one
can mint one for an id they were not given.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from typing import Any, Awaitable, Callable

import orjson

# A page connects within seconds of loading. Until its claim expires, a reconnect remakes a
# session that has gone (evicted while its socket was down): short, so that stays a rare fresh start.
CLAIM_SECONDS = 120
_NONCE, _EXPIRY, _MAC = 16, 8, 16  # bytes; the nonce alone is 128 random bits, as every token has


class Claims:
    def __init__(self, secret: bytes | None = None) -> None:
        # per process, unless a lecture hall shares one: a restart voids every claim, as it ends every session
        self._secret = secret or secrets.token_bytes(32)

    def _mac(self, session_id: str, body: bytes) -> bytes:
        return hmac.new(self._secret, session_id.encode() + b"\0" + body, hashlib.sha256).digest()[:_MAC]

    def issue(self, now: float | None = None) -> tuple[str, str]:
        """A fresh (id, token) pair whose token is a claim on that id."""
        session_id = secrets.token_urlsafe(16)
        expiry = int((time.time() if now is None else now) + CLAIM_SECONDS)
        body = secrets.token_bytes(_NONCE) + expiry.to_bytes(_EXPIRY, "big")
        return session_id, _encode(body + self._mac(session_id, body))

    def valid(self, session_id: str, token: str | None, now: float | None = None) -> bool:
        if not token or not token.isascii():
            return False
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return False
        # the decoder skips characters outside the alphabet: only the one spelling we issue counts
        if len(raw) != _NONCE + _EXPIRY + _MAC or _encode(raw) != token:
            return False
        body, mac = raw[:-_MAC], raw[-_MAC:]
        if not hmac.compare_digest(mac, self._mac(session_id, body)):
            return False
        return int.from_bytes(body[_NONCE:], "big") >= (time.time() if now is None else now)


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token_matches(given: str | None, token: str) -> bool:
    """compare_digest refuses non-ASCII text with a TypeError; such a token is simply wrong."""
    return given is not None and given.isascii() and secrets.compare_digest(given, token)


def _is_ack(text: str) -> bool:
    if len(text) > 64:  # acks are short; anything longer is read as a command
        return False
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return isinstance(message, dict) and message.get("type") == "ack"


def note_commands(websocket: Any, note: Callable[[], None]) -> None:
    """Call `note()` for every command the socket receives, acks aside.

    A controller's commands are what keeps a session alive. Acks are not: the page acks every
    frame it draws, the one each connect brings included, so a tab left somewhere that only
    reconnects would keep its session for ever. The socket's own `receive` is wrapped, so
    whatever reads the socket is noted without knowing about it."""
    receive: Callable[[], Awaitable[dict]] = websocket.receive

    async def receive_noting() -> dict:
        message = await receive()
        text = message.get("text")
        if text is not None and not _is_ack(text):
            note()
        return message

    websocket.receive = receive_noting
