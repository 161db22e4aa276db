FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 curl \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY wellbeing wellbeing
COPY consent consent
COPY capture capture
COPY capture_client capture_client
COPY privacy privacy
COPY inference inference
COPY dashboard dashboard
COPY alerts alerts
COPY training training
COPY manage.py ./
# Static files are collected at build time: /app belongs to root and the app runs as 'app'.
# The key below exists only for this build step.
RUN pip install --no-cache-dir . \
    && DEBUG=false SECRET_KEY=collectstatic-build-step-only python manage.py collectstatic --noinput \
    && useradd --create-home app
USER app
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "wellbeing.asgi:application"]
