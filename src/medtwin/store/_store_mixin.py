"""What the store's mixins (records, twins, batched updates, users, audit) use of each other
and of :class:`~medtwin.store.Store`.

Declared for the type checker only: at run time the class body is empty and ``Store`` itself
provides the transactions, the audit keys and ``_log``.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from ..errors import StoreError
from ._audit_keys import AuditKeys
from ._crypto import FieldCipher
from ._views import TwinVersionView

__all__ = ["StoreMixin"]


class StoreMixin:
    """Base of the store's mixins: the members of ``Store`` they call."""

    if TYPE_CHECKING:
        _audit_keys: AuditKeys
        _cipher: FieldCipher

        @property
        def url(self) -> str: ...

        def _retry(self, fn: Any) -> Any:
            """Run ``fn(session)`` in a transaction, retried on a lost race."""
            ...

        def _refused(self, actor: str, action: str, exc: StoreError) -> None: ...

        def _arriving(self) -> AbstractContextManager[Any]: ...

        def _auto_update(self, pids: Iterable[str], actor: str) -> dict[str, int]: ...

        def _update_alone(self, pid: str, actor: str, tries: int) -> TwinVersionView | None: ...

        def audit(
            self,
            actor: str,
            action: str,
            *,
            patient: str | None = None,
            resource: str | None = None,
            outcome: str = "success",
            detail: dict[str, Any] | None = None,
        ) -> Any: ...

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
