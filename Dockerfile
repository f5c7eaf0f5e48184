# The dialcrm app (controller + CRM + web pages). Build context: the repository root.
FROM python:3.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ari_app ari_app
COPY crm crm
COPY predictive predictive
COPY web web
RUN pip install --no-cache-dir .
ENV DIALCRM_DATA_DIR=/data
VOLUME /data
CMD ["dialcrm", "serve"]
