"""A small notes service on FastAPI, wired by injectq_like. See app.py."""
