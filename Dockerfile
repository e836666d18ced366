# syntax=docker/dockerfile:1
# The Profiteer image: the Dagster code location (gRPC), every run pod the K8sRunLauncher starts,
# the webserver and daemon, the shop API and the Streamlit app all run this one image.
#
#   docker build -t profiteer:0.1.0 .                        # the project image (linux/amd64)
#   docker build --target mindsdb -t profiteer-mindsdb:25.14.1 .   # optional: MindsDB from our lock
#
# Python packages come from requirements/pipeline.lock.txt with hashes checked. The `k8s` extra
# (dagster-k8s, for the K8sRunLauncher) is not in that lock: it resolves here, at build time,
# constrained to the versions the lock installed so nothing locked moves.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements/pipeline.lock.txt requirements/pipeline.lock.txt
RUN pip install --require-hashes -r requirements/pipeline.lock.txt \
    && pip freeze > /opt/constraints.txt
COPY pyproject.toml README.md ./
COPY profiteer_pipeline profiteer_pipeline
COPY profiteer_app profiteer_app
RUN pip install --no-deps . \
    && pip install --constraint /opt/constraints.txt ".[k8s]" \
    && pip check \
    && python -c "import dagster_k8s, profiteer_pipeline, profiteer_app"


FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="profiteer" \
      org.opencontainers.image.description="Profiteer: Dagster code location, run pods, shop API and Streamlit app"
# An unprivileged user; its uid matches podSecurityContext.runAsUser in the Helm chart.
RUN groupadd --system --gid 10001 profiteer \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/profiteer \
       --no-create-home --shell /usr/sbin/nologin profiteer \
    && mkdir -p /opt/dagster/dagster_home /opt/dagster/workspace /var/lib/profiteer \
    && chown profiteer:profiteer /opt/dagster/dagster_home /var/lib/profiteer
COPY --from=build /opt/venv /opt/venv
# The sources too: `streamlit run /opt/profiteer/profiteer_app/Home.py`, and `-m` imports from here.
COPY --from=build /src/profiteer_pipeline /opt/profiteer/profiteer_pipeline
COPY --from=build /src/profiteer_app /opt/profiteer/profiteer_app
# `[tool.dg]`: definitions.py finds the defs folder through the project file beside it.
COPY --from=build /src/pyproject.toml /opt/profiteer/pyproject.toml
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    PROFITEER_STATE_DIR=/var/lib/profiteer \
    HOME=/var/lib/profiteer \
    DO_NOT_TRACK=1
WORKDIR /opt/profiteer
USER 10001:10001
EXPOSE 3000 4000 8501 8765
# Default: the code location's gRPC server (the chart sets each pod's command).
CMD ["dagster", "api", "grpc", "--module-name", "profiteer_pipeline.definitions", \
     "--host", "0.0.0.0", "--port", "4000", "--location-name", "profiteer"]


# Optional: MindsDB 25.14.1 with lightwood from requirements/mindsdb.lock.txt (the local stack's
# exact pins), non-root. Use it instead of the official image with the chart values
#   mindsdb.image.repository=profiteer-mindsdb mindsdb.image.tag=25.14.1
#   mindsdb.podSecurityContext={runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001}
FROM ${PYTHON_IMAGE} AS mindsdb
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmagic1 libpq5 \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/mindsdb.lock.txt /opt/mindsdb.lock.txt
RUN python -m venv /opt/mindsdb \
    && /opt/mindsdb/bin/pip install -r /opt/mindsdb.lock.txt \
    && rm /opt/mindsdb.lock.txt
RUN groupadd --system --gid 10001 mindsdb \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/mindsdb \
       --no-create-home --shell /usr/sbin/nologin mindsdb \
    && mkdir -p /var/lib/mindsdb && chown mindsdb:mindsdb /var/lib/mindsdb
ENV PATH=/opt/mindsdb/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/mindsdb \
    MINDSDB_STORAGE_DIR=/var/lib/mindsdb \
    MINDSDB_TELEMETRY_ENABLED=false \
    DO_NOT_TRACK=1
USER 10001:10001
EXPOSE 47334
CMD ["python", "-Im", "mindsdb", "--api=http", "--no_studio"]
