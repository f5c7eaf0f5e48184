"""``PopHub``: per-agent fan-out of screen-pop messages, one bounded queue per socket.

Messages are plain dicts with a ``type``:

- ``pop``         a call (or a preview offer) for the agent, with the customer essentials;
- ``call_state``  the live state of that call (ringing, connected, ended);
- ``agent_state`` the agent's dialer state (ready, paused + code, on_call, wrap_up, ...);
- ``hello`` / ``heartbeat`` from the hub itself.

``deliver`` never awaits: it encodes the message once, remembers it as the agent's current state
and offers it to each of the agent's connections. Each connection has its own bounded queue and
writer task, so a slow browser never delays another's pop.

Overflow policy: when a connection's queue is full, its queued messages are dropped and replaced
by the agent's *current state* (hello + last agent state + last pop): every message is state, not
a delta, so nothing the page needs is lost. A send that stays blocked longer than
``send_timeout_s`` closes that socket; the page reconnects and gets the current state at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Send = Callable[[str], Awaitable[None]]
Close = Callable[[], Awaitable[None]]
Message = dict[str, Any]


def encode(message: Mapping[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass
class AgentView:
    """What the hub remembers of one agent: the last agent state and the last pop."""

    agent_state: Message | None = None
    pop: Message | None = None

    def remember(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "agent_state":
            self.agent_state = message
        elif kind == "pop":
            self.pop = message
        elif kind == "pop_refresh" and self.pop is not None:
            if self.pop.get("call_id") == message.get("call_id"):
                self.pop = {**self.pop, "customer": message.get("customer")}
        elif kind == "call_state" and self.pop is not None:
            if self.pop.get("call_id") == message.get("call_id"):
                self.pop = {
                    **self.pop,
                    "state": message.get("state"),
                    "state_ts": message.get("ts"),
                }

    def messages(self) -> list[Message]:
        return [m for m in (self.agent_state, self.pop) if m is not None]


@dataclass(eq=False)
class Connection:
    """One socket: a bounded queue of encoded messages drained by one writer task."""

    hub: PopHub
    agent_id: str
    send: Send
    close: Close
    size: int
    send_timeout_s: float
    language: str | None = None
    sent: int = 0
    resyncs: int = 0
    queue: asyncio.Queue[str] = field(init=False)
    closed: bool = False

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.size)

    def offer(self, text: str) -> None:
        """Queue a message without waiting; on overflow, resync to the current state."""
        if self.closed:
            return
        if self.queue.full():
            self._resync()
            return
        self.queue.put_nowait(text)

    def _resync(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        self.resyncs += 1
        for text in self.hub.snapshot_texts(self.agent_id)[: self.size]:
            self.queue.put_nowait(text)
        log.info(
            "pops: socket of agent %s overflowed; resynced to the current state (%d times)",
            self.agent_id,
            self.resyncs,
        )

    async def run(self) -> None:
        """The writer task: send queued messages in order until the socket goes away."""
        try:
            while not self.closed:
                text = await self.queue.get()
                try:
                    async with asyncio.timeout(self.send_timeout_s):
                        await self.send(text)
                except TimeoutError:
                    log.warning(
                        "pops: socket of agent %s stuck for %.1f s; closing it",
                        self.agent_id,
                        self.send_timeout_s,
                    )
                    break
                except (ConnectionError, RuntimeError) as exc:
                    log.debug("pops: socket of agent %s gone: %s", self.agent_id, exc)
                    break
                self.sent += 1
        finally:
            self.closed = True
            self.hub.disconnect(self)
            await self.close_quietly()

    async def close_quietly(self) -> None:
        try:
            async with asyncio.timeout(1.0):
                await self.close()
        except (TimeoutError, ConnectionError, RuntimeError) as exc:
            log.debug("pops: closing socket of agent %s: %s", self.agent_id, exc)


class PopHub:
    """Per-agent state and connections. Build one per app; ``deliver`` from any task."""

    def __init__(
        self,
        *,
        queue_size: int = 64,
        send_timeout_s: float = 10.0,
        heartbeat_s: float = 15.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if queue_size < 4:
            raise ValueError("queue_size must hold at least the current state (4 messages)")
        self.queue_size = queue_size
        self.send_timeout_s = send_timeout_s
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        self._views: dict[str, AgentView] = {}
        self._conns: dict[str, list[Connection]] = {}
        self.delivered = 0

    # ------------------------------------------------------------ messages --
    def deliver(self, agent_id: str, message: Mapping[str, Any]) -> int:
        """Remember ``message`` as the agent's state and offer it to each of their sockets.

        Never blocks; returns the number of sockets it was offered to."""
        msg: Message = {**message, "agent_id": agent_id}
        self._views.setdefault(agent_id, AgentView()).remember(msg)
        self.delivered += 1
        conns = self._conns.get(agent_id, ())
        if conns:
            text = encode(msg)
            for conn in conns:
                conn.offer(text)
        return len(conns)

    def current(self, agent_id: str) -> list[Message]:
        """The agent's current state: the last agent state and the last pop (with its state)."""
        view = self._views.get(agent_id)
        return view.messages() if view else []

    def hello(self, agent_id: str) -> Message:
        return {
            "type": "hello",
            "agent_id": agent_id,
            "server_time": self.clock(),
            "heartbeat_s": self.heartbeat_s,
        }

    def snapshot_texts(self, agent_id: str) -> list[str]:
        return [encode(m) for m in (self.hello(agent_id), *self.current(agent_id))]

    # --------------------------------------------------------- connections --
    def connect(
        self, agent_id: str, send: Send, close: Close, *, language: str | None = None
    ) -> Connection:
        """Register a socket; its queue starts with the current state. Run ``conn.run()``."""
        conn = Connection(
            self, agent_id, send, close, self.queue_size, self.send_timeout_s, language
        )
        for text in self.snapshot_texts(agent_id):
            conn.offer(text)
        self._conns.setdefault(agent_id, []).append(conn)
        return conn

    def disconnect(self, conn: Connection) -> None:
        conn.closed = True
        conns = self._conns.get(conn.agent_id)
        if conns and conn in conns:
            conns.remove(conn)
            if not conns:
                del self._conns[conn.agent_id]

    def language_of(self, agent_id: str) -> str | None:
        """The language of the agent's most recent page (for the recommended script)."""
        conns = self._conns.get(agent_id)
        return conns[-1].language if conns else None

    def connections(self, agent_id: str | None = None) -> list[Connection]:
        if agent_id is not None:
            return list(self._conns.get(agent_id, ()))
        return [c for conns in self._conns.values() for c in conns]

    # ----------------------------------------------------------- lifecycle --
    async def heartbeat(self) -> None:
        """Offer a heartbeat to every socket every ``heartbeat_s`` (run as a task)."""
        while True:
            await asyncio.sleep(self.heartbeat_s)
            text = encode({"type": "heartbeat", "ts": self.clock()})
            for conn in self.connections():
                conn.offer(text)

    async def close_all(self) -> None:
        conns = self.connections()
        for conn in conns:
            self.disconnect(conn)
        await asyncio.gather(*(c.close_quietly() for c in conns))

    def stats(self) -> dict[str, Any]:
        conns = self.connections()
        return {
            "agents": len(self._views),
            "sockets": len(conns),
            "delivered": self.delivered,
            "resyncs": sum(c.resyncs for c in conns),
        }
