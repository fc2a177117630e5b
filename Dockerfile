# syntax=docker/dockerfile:1
# AresBot image: one image for web, workers and the scheduler; the command picks the role.

# --- stage 1: the web app (Vue 3 + Vite, frontend/app), built into frontend/static/app and checked against its size
# budget. Node 26: the active LTS line since 2026-10-28 (24 is in maintenance); a major tag brings its patch releases.
FROM node:26-slim AS spa
WORKDIR /src/frontend/app
COPY frontend/app/package.json frontend/app/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/app/ ./
RUN npm run build && npm run budget

# --- stage 2: Python dependencies, compiled where needed (mysqlclient needs the MySQL client headers)
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential default-libmysqlclient-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
COPY requirements/prod.txt /tmp/requirements.txt
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt

# --- stage 3: the slim runtime, as a non-root user
FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmariadb3 curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /home/aresbot aresbot
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=aresbot.settings \
    STATIC_ROOT=/app/staticfiles
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=aresbot:aresbot . .
COPY --from=spa --chown=aresbot:aresbot /src/frontend/static/app /app/frontend/static/app
# collectstatic needs settings that load; these throw-away values exist only during this build step.
RUN DJANGO_SECRET_KEY=collectstatic-only-build-time-value-0000000000 \
    ENCRYPTION_KEY=ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff \
    ARESBOT_ENV_FILE= python manage.py collectstatic --noinput -v0 \
 && chown -R aresbot:aresbot /app/staticfiles
USER aresbot
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD curl -fsS http://127.0.0.1:8000/health || exit 1
CMD ["gunicorn", "aresbot.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
