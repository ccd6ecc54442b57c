"""The fidelity of each evaluation.

A campaign may measure its candidates with cheaper sources beside its own oracle (an ML
potential before DFT, DFT before the lab: ``[[fidelities]]``). Each evaluation names the
source that made it in ``evaluation.fidelity``; NULL is the campaign's own ``[oracle]``,
which every evaluation before this revision used, so existing rows need no change.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the nullable ``evaluation.fidelity``."""
    with op.batch_alter_table("evaluation") as batch:
        batch.add_column(sa.Column("fidelity", sa.String(), nullable=True))


def downgrade() -> None:
    """The schema of revision 0003 (evaluations at other fidelities are deleted first,
    with their measurements, so that none is taken for the campaign's own)."""
    connection = op.get_bind()
    connection.execute(sa.text(
        "DELETE FROM measurement WHERE evaluation_id IN "
        "(SELECT id FROM evaluation WHERE fidelity IS NOT NULL)"))
    connection.execute(sa.text("DELETE FROM evaluation WHERE fidelity IS NOT NULL"))
    with op.batch_alter_table("evaluation") as batch:
        batch.drop_column("fidelity")
