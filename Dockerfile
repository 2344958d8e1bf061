# The image the Helm chart runs: `trunkline operator` or `trunkline sidecar`.
FROM python:3.11-slim
RUN useradd --uid 10001 --create-home trunkline
WORKDIR /app
COPY pyproject.toml README.md ./
COPY resources resources
COPY switchdb switchdb
COPY reconciler reconciler
COPY provider provider
COPY rating rating
RUN pip install --no-cache-dir . && rm -rf /root/.cache
USER 10001
ENTRYPOINT ["trunkline"]
