# syntax=docker/dockerfile:1
# oceanbase-backup-exporter: docker build -t oceanbase-backup-exporter:VERSION .
# Run it with the config and the secrets mounted (nothing secret is in the image):
#   docker run -p 10180:10180 \
#     -v ./config.yaml:/etc/oceanbase-backup-exporter/config.yaml:ro \
#     -v ./ob_root:/run/secrets/ob_root:ro oceanbase-backup-exporter:VERSION
# See docs/deployment.md.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
RUN python -m pip install --no-cache-dir build==1.2.2.post1
# Only what the wheel is made of (.dockerignore keeps the rest of the tree out of the context).
# The simulator (simulator/) is not: the image's wheel has no simulator and no
# oceanbase-backup-simulator command (setup.py), and --demo says so.
COPY pyproject.toml setup.py README.md ./
COPY exporter ./exporter
RUN python -m build --wheel --outdir /dist

FROM ${PYTHON_IMAGE}
# The venv gets no pip of its own: the base image's pip installs into it, and the running image
# has one package manager less to abuse.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HEALTHCHECK_URL=http://127.0.0.1:10180/-/healthy
RUN python -m venv --without-pip /opt/venv
# A bind mount of the build stage: the wheel never becomes a layer of this image.
RUN --mount=type=bind,from=build,source=/dist,target=/dist \
    python -m pip --python /opt/venv/bin/python install --no-cache-dir /dist/*.whl
# A fixed numeric id, so that Kubernetes' runAsNonRoot can check it without /etc/passwd.
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin exporter \
    && mkdir -p /etc/oceanbase-backup-exporter
USER 10001:10001
EXPOSE 10180
# No curl in the slim image: Python asks. urlopen raises on a refused connection and on any
# status but 2xx (503 while a poll loop died or is stuck), which is exit 1, "unhealthy".
# On another --web.listen-address port, set HEALTHCHECK_URL. Behind --web.config.file (TLS or
# basic auth) replace the check (docker run --health-cmd ...) or turn it off (--no-healthcheck).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['HEALTHCHECK_URL'], timeout=4)"]
# Exec form: the exporter is PID 1 and gets SIGTERM itself; it handles SIGTERM and SIGINT (exit
# 0) and SIGHUP (reload), and starts no child processes, so no init is needed to reap any.
ENTRYPOINT ["/opt/venv/bin/oceanbase-backup-exporter"]
CMD ["--config.file=/etc/oceanbase-backup-exporter/config.yaml"]
