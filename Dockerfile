# logenrich: multi-stage build on pinned slim images, running as a non-root user.
#   docker build -t logenrich .
#   docker run -p 8080:8080 -v ./my-rules:/etc/logenrich/rules:ro logenrich
# Stage 1 builds the wheel (Python package + the native engine, compiled by maturin from
# native/ with the locked crate versions); the image ships only what that wheel installs.
FROM rust:1.85.1-slim-bookworm AS rust

FROM python:3.12.7-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:$PATH
COPY --from=rust /usr/local/rustup /usr/local/rustup
COPY --from=rust /usr/local/cargo /usr/local/cargo
# the C toolchain links the extension module
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY native ./native
COPY app ./app
RUN pip install "maturin>=1.7,<2" \
 && maturin build --release --locked --out /wheels

FROM python:3.12.7-slim-bookworm
LABEL org.opencontainers.image.title="logenrich" \
      org.opencontainers.image.description="Classify JupyterHub-family log lines in a Vector / Fluent Bit pipeline"
RUN groupadd --system --gid 10001 logenrich \
 && useradd --system --uid 10001 --gid logenrich --home-dir /nonexistent --shell /usr/sbin/nologin logenrich \
 && mkdir -p /etc/logenrich/rules \
 && chown logenrich:logenrich /etc/logenrich/rules
COPY --from=build /wheels /tmp/wheels
RUN python -m venv /opt/logenrich \
 && /opt/logenrich/bin/pip install --no-cache-dir --disable-pip-version-check /tmp/wheels/*.whl \
 && rm -rf /tmp/wheels
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
