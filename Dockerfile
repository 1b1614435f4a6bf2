# Images for the gateway and the UI, each holding only its part's dependencies at the versions
# of the lock (requirements/gateway.txt, requirements/ui.txt); the engine uses vLLM's own image
# (compose.yaml). `docker build .` builds the gateway; `--target ui` the UI.
FROM python:3.11-slim AS base
WORKDIR /app
RUN useradd --create-home tollgate
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TOLLGATE_DATA_DIR=/home/tollgate/data TOLLGATE_LOG_FORMAT=json

FROM base AS ui
COPY requirements/ui.txt requirements/
RUN pip install --require-hashes --no-deps -r requirements/ui.txt
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY ui ./ui
# setuptools comes from the lock: nothing is fetched for the build.
RUN pip install --no-deps --no-build-isolation . && rm -rf build
USER tollgate
EXPOSE 7860
CMD ["tollgate", "ui", "--host", "0.0.0.0"]

FROM base AS gateway
COPY requirements/gateway.txt requirements/
RUN pip install --require-hashes --no-deps -r requirements/gateway.txt
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY gateway ./gateway
RUN pip install --no-deps --no-build-isolation . && rm -rf build
USER tollgate
EXPOSE 8080
CMD ["tollgate", "gateway", "--host", "0.0.0.0"]
