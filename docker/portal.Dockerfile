# FlowGate portal image: one image, two roles (docker/docker-compose.yml):
#   web    - Daphne serving HTTP, the API and OpAMP (WebSocket + HTTP) on 8000 and 4320
#   worker - the Celery worker with beat (rollout ticks, stale gateways)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FLOWGATE_VAR_DIR=/var/lib/flowgate

WORKDIR /app
COPY requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r /app/requirements.txt

# The whole tree, so a new app needs no line here; /.dockerignore keeps out local state, secrets, tests and docs.
COPY . /app

RUN useradd --system --home /var/lib/flowgate flowgate \
    && mkdir -p /var/lib/flowgate \
    && chown flowgate /var/lib/flowgate
USER flowgate
VOLUME /var/lib/flowgate
EXPOSE 8000 4320

# The web role (the worker role overrides the command in docker-compose.yml).
CMD ["sh", "-c", "python manage.py migrate --noinput && python manage.py collectstatic --noinput --verbosity 0 && exec python -m flowgate_site.serve -e tcp:port=8000:interface=0.0.0.0 -e tcp:port=4320:interface=0.0.0.0 flowgate_site.asgi:application"]
