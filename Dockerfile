# Backorder Desk: one image for `backorder serve` and `backorder worker`.
# Built only from Debian's packages (the base image and python3) and PyPI (the project's dependencies, as
# pinned by pyproject.toml); nothing else is downloaded. Runs as an unprivileged user.
FROM debian:bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --uid 10001 backorder

WORKDIR /app
# dependencies first, so a change to the code does not re-download them
COPY pyproject.toml README.md ./
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/python -c "import tomllib; d = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(d))" \
 && /opt/venv/bin/pip install -r /tmp/requirements.txt
COPY domain ./domain
COPY api ./api
COPY notifications ./notifications
COPY frontend ./frontend
# editable: the app serves frontend/ from beside its api/ package, so the code stays in /app
RUN /opt/venv/bin/pip install --no-deps -e . \
 && mkdir -p /run/backorder-metrics && chown backorder /run/backorder-metrics

USER backorder
ENV BACKORDER_HOST=0.0.0.0 \
    BACKORDER_PORT=8000 \
    BACKORDER_LOG_FORMAT=json \
    PROMETHEUS_MULTIPROC_DIR=/run/backorder-metrics
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["backorder", "serve", "--host", "0.0.0.0", "--port", "8000"]
