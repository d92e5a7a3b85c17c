"""Security: who created a patient, disabled users and labelled tokens, the per-researcher date
shifts of the de-identified export, the audit key id of each entry and checkpoint, and rate
accounting for exports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PID = sa.String(24)


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("patients") as t:
        t.add_column(sa.Column("created_by", sa.String(128), nullable=True))
    with op.batch_alter_table("users") as t:
        t.add_column(sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("tokens") as t:
        t.add_column(sa.Column("label", sa.String(64), nullable=True))
    with op.batch_alter_table("audit_log") as t:
        t.add_column(sa.Column("key_id", sa.String(32), nullable=False, server_default=""))
    with op.batch_alter_table("audit_checkpoints") as t:
        t.add_column(sa.Column("key_id", sa.String(32), nullable=False, server_default=""))
    op.create_table(
        "deid_shifts",
        sa.Column("researcher", sa.String(128), primary_key=True),
        sa.Column("pid", PID, sa.ForeignKey("patients.pid"), primary_key=True),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.String(16), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
    )
    op.create_index("ix_audit_log_actor_action_time", "audit_log", ["actor", "action", "time"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_actor_action_time", table_name="audit_log")
    op.drop_table("deid_shifts")
    for table, column in (
        ("audit_checkpoints", "key_id"),
        ("audit_log", "key_id"),
        ("tokens", "label"),
        ("users", "disabled"),
        ("patients", "created_by"),
    ):
        with op.batch_alter_table(table) as t:
            t.drop_column(column)
