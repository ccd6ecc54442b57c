"""One row per import, unique per campaign by the digest of its results.

An import of results imported before was refused by a read before the write (the
digests in the evaluations' provenance): two imports of one file at the same moment both
passed it, and the results were stored twice. ``imported_sheet`` holds one row per
import with a unique key on ``(campaign_id, sha256)``, written in the import's own
transaction, so that the database refuses the second. It is filled from the imports
recorded before (each evaluation's provenance ``import.sha256`` and ``import.file``;
imported when its first evaluation finished), so that those are refused again too.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``imported_sheet`` and fill it from the evaluations' provenance."""
    table = op.create_table(
        "imported_sheet",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "sha256"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]))
    recorded = recorded_imports(op.get_bind())
    if recorded:
        op.bulk_insert(table, recorded)


def recorded_imports(connection: sa.Connection) -> list[dict[str, Any]]:
    """One row per (campaign, digest) named by an evaluation's provenance: the file of
    its first evaluation, and the earliest time one of them finished."""
    stamp = sa.DateTime(timezone=True)
    evaluation = sa.table("evaluation", sa.column("id", sa.Integer()),
                          sa.column("campaign_id", sa.Integer()),
                          sa.column("provenance", sa.Text()),
                          sa.column("proposed_at", stamp), sa.column("finished_at", stamp))
    rows = connection.execute(
        sa.select(evaluation.c.campaign_id, evaluation.c.provenance,
                  evaluation.c.finished_at, evaluation.c.proposed_at)
        .where(evaluation.c.provenance.like('%"sha256"%'))
        .order_by(evaluation.c.id))
    found: dict[tuple[int, str], dict[str, Any]] = {}
    for campaign_id, provenance, finished_at, proposed_at in rows:
        parsed = json.loads(provenance)
        record = parsed.get("import") if isinstance(parsed, dict) else None
        if not isinstance(record, dict) or not isinstance(record.get("sha256"), str):
            continue
        when: datetime = finished_at or proposed_at
        first = found.setdefault((campaign_id, record["sha256"]), {
            "campaign_id": campaign_id, "sha256": record["sha256"],
            "path": str(record.get("file", "")), "imported_at": when})
        first["imported_at"] = min(first["imported_at"], when)
    return list(found.values())


def downgrade() -> None:
    """The schema of revision 0002 (the digests stay in the evaluations' provenance)."""
    op.drop_table("imported_sheet")
