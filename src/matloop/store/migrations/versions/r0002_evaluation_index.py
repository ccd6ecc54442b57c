"""One index for one campaign's evaluations of a status.

Nearly every query of the loop asks for a campaign's evaluations with some status
(counts, requeue, awaiting lab results, training data); with separate indexes on
``campaign_id`` and ``status`` the database uses one and filters by the other. A
composite index on ``(campaign_id, status)`` answers them directly, and makes the index
on ``campaign_id`` alone redundant (it is its prefix), so that one is dropped.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``ix_evaluation_campaign_id_status``; drop ``ix_evaluation_campaign_id``."""
    op.create_index("ix_evaluation_campaign_id_status", "evaluation",
                    ["campaign_id", "status"])
    op.drop_index("ix_evaluation_campaign_id", table_name="evaluation")


def downgrade() -> None:
    """The indexes of revision 0001."""
    op.create_index("ix_evaluation_campaign_id", "evaluation", ["campaign_id"])
    op.drop_index("ix_evaluation_campaign_id_status", table_name="evaluation")
