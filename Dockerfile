# Image for the gateway and the UI (the engine uses vLLM's own image, see compose.yaml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY gateway ./gateway
COPY ui ./ui
RUN pip install --no-cache-dir . && useradd --create-home tollgate
USER tollgate
ENV TOLLGATE_DATA_DIR=/home/tollgate/data TOLLGATE_LOG_FORMAT=json
EXPOSE 8080 7860
CMD ["tollgate", "gateway", "--host", "0.0.0.0"]
