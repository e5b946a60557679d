"""From raw documents to stored, indexed passages. Knows nothing of HTTP."""
