"""The document store's schema history (Alembic): env.py and one module per revision in versions/.

app.store.migrate runs them at start; nothing here is run by hand and no alembic.ini exists. A new
revision is a new module in versions/ whose ``down_revision`` is the current head, written by hand
(``script.py.mako`` is its template), together with the same change to app/store/schema.py: a test
builds the head on SQLite and PostgreSQL and compares it with schema.py.
"""
