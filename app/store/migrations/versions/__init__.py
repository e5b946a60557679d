"""One module per schema revision; Alembic reads them by path (app.store.migrate)."""
