# ContactLens images. `docker build .` gives the serving image (the last stage): no torch, a non-root user, a
# health check. `docker build --target train .` gives the training image (torch CPU, the encoder package),
# used once by docker-compose.yml to train and register the first model.
# The Python version is the one pyproject.toml requires (tests/unit/test_deploy.py checks it).
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    MALLOC_ARENA_MAX=2 \
    CONTACTLENS_HOME=/models
RUN groupadd --system --gid 10001 contactlens \
    && useradd --system --uid 10001 --gid contactlens --home-dir /app --shell /usr/sbin/nologin contactlens \
    && mkdir -p /app /models \
    && chown contactlens:contactlens /app /models
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY contactlens ./contactlens
COPY training ./training
COPY service ./service

FROM base AS train
# torch first, from the CPU index: anything that pulls an unpinned torch would bring a multi-GB CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && pip install --constraint=constraints.txt ".[train]"
COPY data ./data
USER contactlens
VOLUME ["/models"]
CMD ["contactlens", "train", "--data", "data/train.csv", "--eval-data", "data/test.csv", "--taxonomy", "data/taxonomy.yaml"]

FROM base AS serve
# Serving scores with ONNX Runtime from the model artifact: no torch, no training extras.
RUN pip install --constraint=constraints.txt . \
    && rm -rf /root/.cache
USER contactlens
VOLUME ["/models"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
CMD ["contactlens", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
