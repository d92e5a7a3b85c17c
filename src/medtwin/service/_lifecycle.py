"""How ``medtwin serve`` starts and stops, as a user at a terminal sees it.

* **The URL is said once the server listens.** Start-up (imports, migrations, seeding the demo,
  the recovery of pending twin updates in the app's lifespan) takes tens of seconds on a cold
  machine, and uvicorn binds its socket only after the app's lifespan has started. The lifespan
  (:meth:`Lifecycle.attach`) therefore starts a task that waits for uvicorn's server to say it
  has ``started`` (it binds, then says so), found as the owner of the signal handler uvicorn
  installs while it runs (if a uvicorn version installs none, the task connects to the port
  until it accepts), and only then prints the URL -- so a browser opened on it connects at
  once. The demo's data stream starts then too, so that its twin updates do not compete with
  start-up for the CPU.
* **Ctrl-C (SIGINT) or SIGTERM is answered at once** with one line (:data:`STOPPING`), also
  during start-up: :meth:`Lifecycle.handle` is the handler outside uvicorn, and the app's
  lifespan wraps uvicorn's own handler with it while uvicorn runs (uvicorn restores the
  handlers it found when it stops, and re-raises the signal into them: here a
  ``KeyboardInterrupt`` that ``medtwin serve`` turns into its exit status).
* **Stopping is prompt.** Requests in progress get :data:`GRACE_S` seconds, then uvicorn cancels
  them; the demo stream stops before its next reading; the process then exits without waiting
  for work still running in other threads (a request's computation, a twin update, the
  warm-up's compile: :meth:`Lifecycle.leave`). Nothing is lost: every store write is one
  transaction, so an update cut off is not committed, and data stored without their update are
  applied by the start-up recovery the next time (``medtwin.service.recover``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import FrameType
from typing import Any

from fastapi import FastAPI

__all__ = ["GRACE_S", "JOIN_S", "STOPPING", "Lifecycle"]

GRACE_S = 3
"""Seconds uvicorn lets the requests in progress finish after a stop signal."""
JOIN_S = 2.0
"""Seconds a background thread (the demo stream) gets to finish its step after a stop."""
STOPPING = "Stopping medtwin (Ctrl-C again to quit at once) ..."
"""The line said as soon as a stop signal arrives."""
SIGNALS = (signal.SIGINT, signal.SIGTERM)

Handler = Callable[[int, FrameType | None], Any]


class Lifecycle:
    """The start and stop of one ``medtwin serve``: ``say`` prints a line; ``stop`` is set by
    the first stop signal (the demo stream waits on it); ``signal`` is that signal's number."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.stop = threading.Event()
        self.signal: int | None = None
        self._said = threading.Lock()
        self._ready = False

    # -- signals ------------------------------------------------------------------------------

    def stopping(self, sig: int) -> None:
        """Say :data:`STOPPING` and set :attr:`stop`, on the first signal only."""
        if not self._said.acquire(blocking=False):
            return
        self.signal = sig
        self.stop.set()
        logging.getLogger("uvicorn.error").addFilter(self._cut_off)
        self._say(STOPPING)

    def _say(self, line: str) -> None:
        try:
            self.say(line)
        except (OSError, RuntimeError):  # a closed pipe, or output re-entered mid-line
            pass

    def _cut_off(self, record: logging.LogRecord) -> bool:
        """uvicorn's log after a stop: its line on cutting requests off after the grace said
        in one plain line, and the traceback of each request cut off left out."""
        if "timeout graceful shutdown" in str(record.msg) and record.args:
            n = record.args[0] if isinstance(record.args, tuple) else record.args
            self._say(f"Cut off {n} request(s) still running after {GRACE_S} s.")
            return False
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, asyncio.CancelledError)

    def handle(self, sig: int, frame: FrameType | None) -> None:
        """The handler outside uvicorn: say so, then stop the way Ctrl-C stops Python."""
        self.stopping(sig)
        raise KeyboardInterrupt

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if a stop signal came (the one :meth:`handle` raised
        may have been swallowed: raised inside a callback, it is only printed)."""
        if self.signal is not None:
            raise KeyboardInterrupt

    @contextmanager
    def signals(self) -> Iterator[None]:
        """:meth:`handle` answers SIGINT and SIGTERM in the block (in the main thread only;
        elsewhere signals cannot be handled and the block changes nothing)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        before = {sig: signal.signal(sig, self.handle) for sig in SIGNALS}
        try:
            yield
        finally:
            for sig, old in before.items():
                signal.signal(sig, old)

    def _wrap_running_handlers(self) -> Any:
        """Put :meth:`stopping` in front of the handlers uvicorn installed (main thread only);
        return uvicorn's server, the owner of its handler (None if not found)."""
        if threading.current_thread() is not threading.main_thread():
            return None
        server = None
        for sig in SIGNALS:
            inner = signal.getsignal(sig)
            if callable(inner) and inner != self.handle:
                owner = getattr(inner, "__self__", None)
                if hasattr(owner, "started") and hasattr(owner, "should_exit"):
                    server = owner
                signal.signal(sig, self._announcing(inner))
        return server

    def _announcing(self, inner: Handler) -> Handler:
        def handler(sig: int, frame: FrameType | None) -> None:
            self.stopping(sig)
            inner(sig, frame)

        return handler

    # -- start --------------------------------------------------------------------------------

    def attach(self, app: FastAPI, ready: Callable[[], None], host: str, port: int) -> None:
        """Make ``app``'s lifespan announce stop signals from its start on, and call ``ready()``
        once the server accepts connections on ``host``:``port`` (not after a stop signal)."""
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(a: Any) -> AsyncIterator[Any]:
            server = self._wrap_running_handlers()
            if self.signal is not None:  # it came before uvicorn could hear it: say it again
                signal.raise_signal(self.signal)
            async with inner(a) as state:
                task = asyncio.create_task(self._when_listening(server, host, port, ready))
                try:
                    yield state
                finally:
                    task.cancel()

        app.router.lifespan_context = lifespan

    async def _when_listening(
        self, server: Any, host: str, port: int, ready: Callable[[], None]
    ) -> None:
        while not self.stop.is_set():
            if server is not None:
                listening = bool(server.started)
            else:
                listening = await _accepts(host, port)
            if listening:
                if not self.stop.is_set():
                    ready()
                return
            await asyncio.sleep(0.02)

    @staticmethod
    def uvicorn_options() -> dict[str, Any]:
        """Keyword arguments of ``uvicorn.run``: requests in progress get :data:`GRACE_S`."""
        return {"timeout_graceful_shutdown": GRACE_S}

    # -- stop ---------------------------------------------------------------------------------

    def exit_code(self) -> int:
        """The exit status after a stop: 130 after Ctrl-C (the shell's convention), 0 after
        SIGTERM (a service manager's normal stop) or when no signal stopped the server."""
        return 130 if self.signal == signal.SIGINT else 0

    def leave(self, code: int) -> None:
        """After a stop signal and the cleanup: exit now with ``code`` if other threads still
        run (they would hold up the interpreter's exit, or abort it inside compiled code);
        else return, and the caller exits as usual."""
        if self.signal is None:
            return
        main = threading.main_thread()
        if not any(t is not main and t.is_alive() for t in threading.enumerate()):
            return
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


async def _accepts(host: str, port: int) -> bool:
    """Whether a TCP connection to ``host``:``port`` is accepted (a wildcard host: loopback)."""
    probe = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(probe, port), 1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return True
