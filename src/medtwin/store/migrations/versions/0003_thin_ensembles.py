"""Twin ensembles in a table of their own (``twin_ensembles``): kept for the head and every
``CHECKPOINT_EVERY``-th version, deleted for the others once a child is written (those are
restored by making their steps again). Existing ensembles are all kept.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "twin_ensembles",
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("twin_versions.id"), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.execute(
        "INSERT INTO twin_ensembles (version_id, data) SELECT id, ensemble FROM twin_versions"
    )
    with op.batch_alter_table("twin_versions") as t:
        t.drop_column("ensemble")


def downgrade() -> None:
    """Back to one ensemble column; possible only while every version keeps its ensemble."""
    with op.batch_alter_table("twin_versions") as t:
        t.add_column(sa.Column("ensemble", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE twin_versions SET ensemble = (SELECT data FROM twin_ensembles "
        "WHERE twin_ensembles.version_id = twin_versions.id)"
    )
    with op.batch_alter_table("twin_versions") as t:
        t.alter_column("ensemble", existing_type=sa.LargeBinary(), nullable=False)
    op.drop_table("twin_ensembles")
