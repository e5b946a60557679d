"""Durable storage of units, documents, passages and their vectors."""

from app.store.base import DocumentStore, IndexRows, StoredPassage
from app.store.sql import SqlDocumentStore

__all__ = ["DocumentStore", "IndexRows", "SqlDocumentStore", "StoredPassage"]
