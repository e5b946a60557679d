"""What the HTTP service holds and the FastAPI dependencies that read it: shared by its two
siblings, the JSON API (``app.api``) and the pages (``app.web``), which never import each other."""
