"""Server-rendered pages (Jinja2 templates shipped in the package; no CDN)."""
