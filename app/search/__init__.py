"""Per-unit retrieval: a dense vector index and BM25, fused."""
