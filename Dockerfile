# MemoryHub: one image, four processes that differ only in their command.
#
#   web     (default)  gunicorn memoryhub.wsgi           -> port 8000
#   worker             celery -A memoryhub worker -Q default
#   beat               celery -A memoryhub beat --scheduler django_celery_beat.schedulers:DatabaseScheduler
#   mcp                python -m memories.mcp --host 0.0.0.0   -> port 8001 (MCP_PORT)
#   one-off            python manage.py migrate | bootstrap | create_api_key ...
#
# Needs at run time: DATABASE_URL (PostgreSQL >= 15 with pgvector),
# CELERY_BROKER_URL (Redis), MEMORYHUB_SECRET_KEY, MEMORYHUB_MASTER_KEYS,
# MEMORYHUB_ALLOWED_HOSTS. See README.md, "Configuration".
#
# Build: docker build -t memoryhub .   (not built in this project's CI: the
# development machines have no Docker daemon and cannot reach the PyTorch index)

FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    MEMORYHUB_VAR_DIR=/app/var \
    MEMORYHUB_MODEL_DIR=/app/models \
    PROMETHEUS_MULTIPROC_DIR=/app/var/prometheus

WORKDIR /app

# torch first, from the CPU-only index, pinned: a plain "torch" resolves to a
# multi-GB CUDA build. The locked requirements then find it satisfied.
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY requirements/base.txt requirements/base.txt
RUN pip install -r requirements/base.txt

COPY . .

# Build-time only: settings need some values to import. Nothing here reaches
# the running container (no secrets are baked into the image).
RUN MEMORYHUB_SECRET_KEY=build-only \
    MEMORYHUB_MASTER_KEYS=build:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    DATABASE_URL=postgresql://build@localhost/build \
    CELERY_BROKER_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput --verbosity 0 \
 && python -m memories.embedders export \
 && useradd --system --uid 10001 --home-dir /app memoryhub \
 && mkdir -p /app/var \
 && chown -R memoryhub /app/var /app/models

USER memoryhub
EXPOSE 8000 8001

# Liveness; readiness (database, broker, embedder) is GET /readyz.
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"

CMD ["gunicorn", "memoryhub.wsgi:application", "--config", "python:memoryhub.gunicorn_conf", \
     "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", \
     "--graceful-timeout", "20", "--no-control-socket"]
