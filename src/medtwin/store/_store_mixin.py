"""What the store's mixins (:class:`~medtwin.store._store_users.UserMethods`,
:class:`~medtwin.store._store_audit.AuditMethods`) use of :class:`~medtwin.store.Store`.

Declared for the type checker only: at run time the class body is empty and ``Store`` itself
provides the transactions, the audit keys and ``_log``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from ._audit_keys import AuditKeys

__all__ = ["StoreMixin"]


class StoreMixin:
    """Base of the store's mixins: the members of ``Store`` they call."""

    if TYPE_CHECKING:
        _audit_keys: AuditKeys

        def _tx(self) -> AbstractContextManager[Session]:
            """A read-write transaction."""
            ...

        def _read(self) -> AbstractContextManager[Session]:
            """A read-only transaction."""
            ...

        def _log(
            self,
            s: Session,
            actor: str,
            action: str,
            patient: str | None = None,
            resource: str | None = None,
            detail: dict[str, Any] | None = None,
            outcome: str = "success",
        ) -> None:
            """Append an audit entry in transaction ``s``."""
            ...
