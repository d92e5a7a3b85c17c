"""Warming a starting service up for the twins it holds (``medtwin.loop.warm_up``), in a
background thread: one throwaway update per distinct shape of stored twin, so the first real
update after a restart runs compiled code (with the persistent compilation cache, loaded
rather than compiled) instead of tracing it first. The service answers meanwhile; an update
that arrives before its shape is warm simply compiles it as it would have."""

from __future__ import annotations

import logging
import threading

from .. import loop
from ..store import Store

__all__ = ["start_warm_up"]

log = logging.getLogger("medtwin.service")


def _run(store: Store, done: threading.Event) -> None:
    try:
        shapes = store.twin_shapes()
        for config in shapes:
            seconds = loop.warm_up(config)
            log.info("warmed up %s twins (n=%d) in %.1f s", config.model, config.n, seconds)
    except Exception:  # never take the service down: a cold first update is the fallback
        log.exception("warm-up failed; the first updates will compile as they come")
    finally:
        done.set()


def start_warm_up(store: Store) -> threading.Event:
    """Start the warm-up; the returned event is set when it has finished."""
    done = threading.Event()
    threading.Thread(target=_run, args=(store, done), name="medtwin-warm-up", daemon=True).start()
    return done
