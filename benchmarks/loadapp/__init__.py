"""The bench-load server's anchor: the product's own settings, middleware and URLs plus one minimal view.

`bench_load.py` starts gunicorn with DJANGO_SETTINGS_MODULE=loadapp.settings (this package is on PYTHONPATH only
for the benchmark server), so the anchor view runs behind exactly the same workers and middleware (sessions,
sign-in, tenant, MFA, security headers) as the measured pages, and only the view itself differs: no query, no
template, no audit event. Nothing here is importable by the product.
"""
