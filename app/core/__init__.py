"""The core under every entry point: the knowledge base (units, documents, indexes, retrieval)
and the answerer over it (retrieve, read, cite). No HTTP, no command line."""
