"""Durable storage of units, documents, passages and their vectors."""

from app.store.base import DocumentStore, IndexRows, StoredPassage
from app.store.sqlite import SqliteStore

__all__ = ["DocumentStore", "IndexRows", "SqliteStore", "StoredPassage"]
