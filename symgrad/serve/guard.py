"""What the practice page does with untrusted requests before anything is graded: size
limits on the form and each field, a per-client rate limit, and CSRF tokens. Plain
Python, no web framework: :mod:`.app` calls these.

A form is read from at most :attr:`Limits.body` bytes, as UTF-8, with only the field
names the page has; a field longer than :attr:`Limits.field` characters refuses the form:

>>> limits = Limits(body=64, field=8, fields=3)
>>> read_form(b"csrf=t&q1=0.25", ("csrf", "q1", "q2"), limits)
{'csrf': 't', 'q1': '0.25'}
>>> read_form(b"q1=123456789", ("q1",), limits)
Traceback (most recent call last):
...
symgrad.serve.guard.Refused: the answer to q1 has 9 characters; the limit is 8
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Collection
from urllib.parse import parse_qsl

from ..errors import SymgradError

__all__ = ["Limits", "Refused", "read_form", "RateLimit", "Tokens"]


@dataclass(frozen=True)
class Limits:
    """Sizes the page accepts: a form's ``body`` in bytes, one ``field`` in characters
    (an answer, a previewed expression), and the number of ``fields`` of a form."""

    body: int = 16_384
    field: int = 500  # an answer; the expression parser's own limit is 5,000
    fields: int = 64

    def check_body(self, size: int) -> None:
        """:class:`Refused` for a form of ``size`` bytes over the limit."""
        if size > self.body:
            raise Refused(413, f"the form is larger than {self.body} bytes")


class Refused(SymgradError):
    """A request the page will not serve: ``status`` is the HTTP status, the message
    says why in one line (shown to the student)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def read_form(body: bytes, names: Collection[str], limits: Limits) -> dict[str, str]:
    """The fields of a URL-encoded form, by name: only ``names``, each once, each within
    ``limits``; anything else is :class:`Refused`."""
    limits.check_body(len(body))
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True,
                          max_num_fields=limits.fields, encoding="utf-8", errors="strict")
    except UnicodeError:
        raise Refused(400, "the form is not URL-encoded UTF-8") from None
    except ValueError:  # parse_qsl's "Max number of fields exceeded"
        raise Refused(413, f"the form has more than {limits.fields} fields") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name not in names:
            raise Refused(400, "the form has a field this page does not have")
        if name in form:
            raise Refused(400, f"the form has {name} twice")
        if len(value) > limits.field:
            raise Refused(413, f"the answer to {name} has {len(value)} characters; the "
                               f"limit is {limits.field}")
        form[name] = value
    return form


class RateLimit:
    """A token bucket per client: ``burst`` requests at once, then ``per_second``.
    At most ``clients`` buckets are kept; when more clients come, the least recently
    seen bucket is dropped (a full bucket again: a new client starts full anyway).

    >>> limit = RateLimit(burst=2, per_second=1.0)
    >>> [limit.wait("a", now=0.0) for _ in range(3)], limit.wait("b", now=0.0)
    ([0.0, 0.0, 1.0], 0.0)
    >>> limit.wait("a", now=1.0)
    0.0
    """

    def __init__(self, burst: int = 60, per_second: float = 1.0, clients: int = 10_000
                 ) -> None:
        self.burst, self.per_second, self.clients = burst, per_second, clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, client: str, now: float | None = None) -> float:
        """0 when ``client`` may be served now (and counts the request), else the seconds
        to wait before the next request is served."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, then = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.per_second)
            waited = 0.0 if tokens >= 1 else (1 - tokens) / self.per_second
            self._buckets[client] = (tokens - 1 if not waited else tokens, now)
            while len(self._buckets) > self.clients:
                self._buckets.popitem(last=False)
            return waited

    def retry_after(self, waited: float) -> str:
        """The ``Retry-After`` header for a wait: whole seconds, at least 1."""
        return str(max(1, math.ceil(waited)))


class Tokens:
    """CSRF tokens (the signed double-submit cookie): the browser holds a random cookie,
    and each form carries the HMAC of that cookie under a secret of this server. A page
    of another site can send the cookie (not with ``SameSite=Strict``) but cannot read
    the form's token.

    >>> tokens = Tokens(b"k" * 32)
    >>> cookie = tokens.cookie()
    >>> tokens.valid(cookie, tokens.form_token(cookie)), tokens.valid(cookie, "forged")
    (True, False)
    """

    COOKIE = "symgrad_csrf"
    _LENGTH = 43  # secrets.token_urlsafe(32)

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def cookie(self) -> str:
        """A new random cookie value."""
        return secrets.token_urlsafe(32)

    def keep(self, cookie: str | None) -> str:
        """The browser's cookie if it is one of ours in form, else a new one."""
        if cookie and len(cookie) == self._LENGTH and cookie.isascii() and all(
                c.isalnum() or c in "-_" for c in cookie):
            return cookie
        return self.cookie()

    def form_token(self, cookie: str) -> str:
        """The token a form carries for ``cookie``."""
        return hmac.new(self._secret, cookie.encode("ascii", "replace"),
                        hashlib.sha256).hexdigest()

    def valid(self, cookie: str | None, token: str | None) -> bool:
        """Whether the form's ``token`` belongs to the browser's ``cookie``."""
        if not cookie or not token or len(cookie) != self._LENGTH:
            return False
        return hmac.compare_digest(self.form_token(cookie), token)
