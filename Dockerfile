# logenrich: multi-stage build on a pinned slim Python 3.12, running as a non-root user.
#   docker build -t logenrich .
#   docker run -p 8080:8080 -v ./my-rules:/etc/logenrich/rules:ro logenrich
FROM python:3.12.7-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
RUN python -m venv /opt/logenrich \
 && /opt/logenrich/bin/pip install --upgrade pip \
 && /opt/logenrich/bin/pip install .

FROM python:3.12.7-slim-bookworm
LABEL org.opencontainers.image.title="logenrich" \
      org.opencontainers.image.description="Classify JupyterHub-family log lines in a Vector / Fluent Bit pipeline"
RUN groupadd --system --gid 10001 logenrich \
 && useradd --system --uid 10001 --gid logenrich --home-dir /nonexistent --shell /usr/sbin/nologin logenrich \
 && mkdir -p /etc/logenrich/rules \
 && chown logenrich:logenrich /etc/logenrich/rules
COPY --from=build /opt/logenrich /opt/logenrich
ENV PATH=/opt/logenrich/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LOGENRICH_HOST=0.0.0.0 \
    LOGENRICH_PORT=8080 \
    LOGENRICH_WORKERS=2 \
    LOGENRICH_RULES=/etc/logenrich/rules
# operator rule files (and Kubernetes ConfigMaps) go here; the service hot-reloads them
VOLUME ["/etc/logenrich/rules"]
USER 10001:10001
EXPOSE 8080
# the read-only root filesystem is fine: nothing is written but /tmp (metrics of --workers)
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('LOGENRICH_PORT', '8080'), timeout=2)"]
ENTRYPOINT ["logenrich"]
CMD ["serve"]
