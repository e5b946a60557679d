"""Vietnamese text handling shared by ingestion and question answering."""
