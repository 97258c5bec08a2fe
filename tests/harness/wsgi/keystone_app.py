"""Keystone's public WSGI application, for gunicorn (run by tests/harness/keystone.py).

Keystone parses the process's command line with oslo.config when it starts; under
gunicorn that command line is gunicorn's own, so it is hidden from Keystone first.
"""
import sys

sys.argv = sys.argv[:1]

from keystone.server import wsgi  # noqa: E402

application = wsgi.initialize_public_application()
