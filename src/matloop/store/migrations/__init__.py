"""Alembic migrations of matloop's database schema, run by ``matloop.store.migrate``
(programmatically: there is no alembic.ini).

To change the schema: change ``matloop/store/tables.py``; add ``versions/rNNNN_<what>.py``
(copy the latest: ``revision = "NNNN"``, ``down_revision`` = the previous one, and
``upgrade()`` with ``alembic.op``; write ``downgrade()`` too when it is cheap); append
``"NNNN"`` to ``REVISIONS`` in ``matloop/store/migrate.py`` and set ``SCHEMA_VERSION`` in
``tables.py`` to NNNN. tests/store/test_migrations.py checks that an upgraded database
and a new one have the same schema, and that the revisions are the ones listed.
"""
