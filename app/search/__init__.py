"""Retrieval behind one port (``backend.SearchBackend``): the embedded per-unit FAISS + BM25 indexes, or
one Milvus collection that replicas share; and the fusion of their dense and lexical lists."""
