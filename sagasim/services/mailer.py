"""A simulated mailer: messages that cannot be unsent.

The Mailer follows the request model of :class:`~sagasim.services.Service`.
A message, once it arrives, has been sent: the effect is marked
``irreversible`` and no rollback handler can take it back. The only
compensation is another message, a correction, which the ledger links to
the message it corrects. That is the lab's example of an undo that is not a
time machine.

``send`` accepts an idempotency key, with the rule Payments uses: a second
send with a key already used by a sent message returns that message's id
and sends nothing. Without a key, a retried send whose first attempt landed
(the answer was lost to a timeout) sends the message twice. Corrections are
not deduplicated: a correction handler that runs twice sends two.

The mailer conserves nothing: its effects have resource ``""``, ``delta``
and ``amount`` 0, and :meth:`Mailer.snapshot` is empty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sagasim
from sagasim.services._records import Records
from sagasim.services._validate import check_key
from sagasim.services.base import Call, Service
from sagasim.services.errors import IdempotencyConflict

if TYPE_CHECKING:
    from sagasim import Simulation

__all__ = ["Mailer", "UnknownMessage"]


class UnknownMessage(sagasim.NonRetryableError):
    """No message has that id or key. Non-retryable; nothing is sent."""


class Mailer(Service):
    """A simulated mail service.

    Args:
        sim: the simulation whose clock and random streams it uses.
        name: the service's name (default ``"mailer"``).
        latency, response_latency, capacity, outages, error_rate: the
            request model; see :class:`~sagasim.services.Service`.

    Message ids are ``"msg_1"``, ``"msg_2"``, ... in the order messages
    (corrections included) are sent. Effects: ``"send"`` (entity the
    message id, ``irreversible`` true) and ``"correction"`` (entity the
    correction's own message id, ``compensates`` the effect id of the
    message it corrects).
    """

    kind = "mailer"

    def __init__(
        self,
        sim: Simulation,
        name: str = "mailer",
        **request: Any,
    ) -> None:
        # ``request`` holds the request model's options (latency, capacity,
        # outages, error rate, queue timeout, load factor): see Service.
        super().__init__(sim, name, **request)
        self._messages = Records("msg")

    @property
    def messages(self) -> dict[str, dict[str, Any]]:
        """Copies of every message sent, by id: ``{"id", "key", "to",
        "subject", "text", "corrects"}``; ``corrects`` is the id of the
        message a correction corrects, ``None`` for an ordinary message,
        whose ``text`` is ``""``."""
        return self._messages.public()

    async def send(self, to: str, subject: str, key: str | None = None) -> str:
        """Send a message to ``to``; return its id.

        Irreversible once it arrives. With a ``key`` already used by a sent
        message, returns that message's id and sends nothing; without one,
        each send that arrives is a message in someone's inbox.
        """
        check_key(key)
        return await self._request(
            "send",
            {"to": to, "subject": subject},
            lambda call: self._send(call, to, subject),
            key=key,
        )

    async def correct(self, message: str, text: str) -> str:
        """Send a correction of ``message`` (its id, or the key it was sent
        with; an id is tried first); return the correction's message id.

        The correction goes to the same recipient, with subject
        ``"Correction: <subject>"``. It compensates the original without
        undoing it: both stay in the ledger. Refused with
        :class:`UnknownMessage` when no message matches. Each correction
        that arrives is sent, even a second one for the same message.
        """
        return await self._request(
            "correct",
            {"message": message, "text": text},
            lambda call: self._correct(call, message, text),
        )

    # -- what happens at arrival ----------------------------------------------

    def _send(self, call: Call, to: str, subject: str) -> str:
        key = call["key"]
        first = None if key is None else self._messages.by_key.get(key)
        if first is not None:
            if (first["to"], first["subject"]) != (to, subject):
                raise IdempotencyConflict(
                    f"key {key!r} was used for a message to {first['to']!r} "
                    f"about {first['subject']!r}, not to {to!r} about {subject!r}"
                )
            return first["id"]

        record = self._messages.add(key, to=to, subject=subject, text="", corrects=None)
        record["effect_id"] = self._apply_effect(
            call, "send", record["id"], "", 0, 0, irreversible=True
        )
        return record["id"]

    def _correct(self, call: Call, ref: str, text: str) -> str:
        original = self._messages.resolve(ref)
        if original is None:
            raise UnknownMessage(f"{self.kind} {self.name!r} has no message {ref!r}")

        record = self._messages.add(
            None,
            to=original["to"],
            subject="Correction: " + original["subject"],
            text=text,
            corrects=original["id"],
        )
        record["effect_id"] = self._apply_effect(
            call,
            "correction",
            record["id"],
            "",
            0,
            0,
            compensates=original["effect_id"],
        )
        return record["id"]
