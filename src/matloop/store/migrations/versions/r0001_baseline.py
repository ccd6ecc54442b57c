"""Baseline: the schema of matloop before Alembic (``meta.schema_version = '1'``).

Such databases are stamped with this revision, not made by it; creating the tables here
too gives the upgrade path from nothing, and tests check it against that schema.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the eight tables and their indexes as matloop 0.1 did."""
    stamp = sa.DateTime(timezone=True)
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("stop_reason", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_campaign_name", "campaign", ["name"], unique=True)
    op.create_table(
        "meta",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("key"))
    op.create_table(
        "candidate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("pool_index", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "key"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]))
    op.create_index("ix_candidate_campaign_id", "candidate", ["campaign_id"])
    op.create_table(
        "cycle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(), nullable=False),
        sa.Column("n_train", sa.Integer(), nullable=False),
        sa.Column("n_proposed", sa.Integer(), nullable=False),
        sa.Column("fit_s", sa.Float(), nullable=False),
        sa.Column("select_s", sa.Float(), nullable=False),
        sa.Column("hyperparameters", sa.Text(), nullable=True),
        sa.Column("best", sa.Text(), nullable=True),
        sa.Column("predicted", sa.Text(), nullable=True),
        sa.Column("created_at", stamp, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "number"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]))
    op.create_index("ix_cycle_campaign_id", "cycle", ["campaign_id"])
    op.create_table(
        "run_lock",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", stamp, nullable=False),
        sa.PrimaryKeyConstraint("campaign_id"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]))
    op.create_table(
        "evaluation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("proposed_at", stamp, nullable=False),
        sa.Column("started_at", stamp, nullable=True),
        sa.Column("finished_at", stamp, nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("provenance", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidate.id"]))
    op.create_index("ix_evaluation_campaign_id", "evaluation", ["campaign_id"])
    op.create_index("ix_evaluation_candidate_id", "evaluation", ["candidate_id"])
    op.create_index("ix_evaluation_status", "evaluation", ["status"])
    op.create_table(
        "external_candidate",
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("values", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("candidate_id"),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidate.id"]),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]))
    op.create_index("ix_external_candidate_campaign_id", "external_candidate",
                    ["campaign_id"])
    op.create_table(
        "measurement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("property", sa.String(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["evaluation_id"], ["evaluation.id"]))
    op.create_index("ix_measurement_evaluation_id", "measurement", ["evaluation_id"])


def downgrade() -> None:
    """Drop everything (children first)."""
    for table in ("measurement", "external_candidate", "evaluation", "run_lock", "cycle",
                  "candidate", "meta", "campaign"):
        op.drop_table(table)
