"""The initial store: patients, observations, events, twins and their versions, forecasts,
recommendations, users, tokens, grants and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

PID = sa.String(24)
SHA = sa.String(64)


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "store_meta",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "patients",
        sa.Column("pid", PID, primary_key=True),
        sa.Column("source_key", SHA, nullable=False, unique=True),
        sa.Column("mrn", sa.LargeBinary(), nullable=True),
        sa.Column("name", sa.LargeBinary(), nullable=True),
        sa.Column("birth_date", sa.LargeBinary(), nullable=True),
        sa.Column("gender", sa.String(16), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
    )
    op.create_table(
        "twins",
        sa.Column("pid", PID, sa.ForeignKey("patients.pid"), primary_key=True),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("head_version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "twin_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("pid", PID, sa.ForeignKey("twins.pid"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("twin_versions.id"), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("model_time", sa.Double(), nullable=False),
        sa.Column("ensemble", sa.LargeBinary(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("applied", sa.Text(), nullable=False),
        sa.UniqueConstraint("pid", "version", name="uq_twin_versions_pid_version"),
    )
    per_record: tuple[tuple[str, list[sa.Column[Any]]], ...] = (
        (
            "observations",
            [
                sa.Column("code", sa.String(32), nullable=False),
                sa.Column("time", _time(), nullable=False),
                sa.Column("value", sa.Double(), nullable=False),
                sa.Column("unit", sa.String(32), nullable=False),
                sa.Column("censored", sa.SmallInteger(), nullable=False),
            ],
        ),
        (
            "events",
            [
                sa.Column("kind", sa.String(32), nullable=False),
                sa.Column("time", _time(), nullable=False),
                sa.Column("amount", sa.Double(), nullable=False),
            ],
        ),
    )
    for table, columns in per_record:
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("pid", PID, sa.ForeignKey("patients.pid"), nullable=False),
            sa.Column("source_id", sa.String(512), nullable=False),
            *columns,
            sa.Column("received_at", _time(), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("version_id", sa.Integer(), sa.ForeignKey("twin_versions.id"), nullable=True),
            sa.UniqueConstraint("pid", "source_id", name=f"uq_{table}_pid_source"),
        )
        op.create_index(f"ix_{table}_pid_status", table, ["pid", "status"])
    op.create_index("ix_observations_pid_time", "observations", ["pid", "time"])
    op.create_table(
        "forecasts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("pid", PID, sa.ForeignKey("twins.pid"), nullable=False),
        sa.Column(
            "version_id",
            sa.Integer(),
            sa.ForeignKey("twin_versions.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("issued_at", _time(), nullable=False),
        sa.Column("horizon", sa.Double(), nullable=False),
        sa.Column("observables", sa.Text(), nullable=False),
        sa.Column("levels", sa.Text(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_forecasts_pid", "forecasts", ["pid"])
    op.create_table(
        "recommendations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("pid", PID, sa.ForeignKey("patients.pid"), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    op.create_index("ix_recommendations_pid", "recommendations", ["pid"])
    op.create_table(
        "users",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("hash", SHA, primary_key=True),
        sa.Column("user", sa.String(128), sa.ForeignKey("users.name"), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("expires_at", _time(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_tokens_user", "tokens", ["user"])
    op.create_table(
        "grants",
        sa.Column("user", sa.String(128), sa.ForeignKey("users.name"), primary_key=True),
        sa.Column("pid", PID, sa.ForeignKey("patients.pid"), primary_key=True),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("time", _time(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("patient", PID, nullable=True),
        sa.Column("resource", sa.String(256), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", SHA, nullable=False),
        sa.Column("hash", SHA, nullable=False),
    )
    op.create_index("ix_audit_log_patient", "audit_log", ["patient"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", SHA, nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": "0" * 64}])
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("hash", SHA, nullable=False),
        sa.Column("time", _time(), nullable=False),
        sa.Column("signature", SHA, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "audit_checkpoints",
        "audit_head",
        "audit_log",
        "grants",
        "tokens",
        "users",
        "recommendations",
        "forecasts",
        "events",
        "observations",
        "twin_versions",
        "twins",
        "patients",
        "store_meta",
    ):
        op.drop_table(table)
