"""Process helpers for the test suite: private servers started per test session.

Each module starts one kind of real process on loopback (PostgreSQL, RabbitMQ,
the netqos server) or wraps network namespaces. They know nothing of pytest,
so they can be used from benchmarks and scripts too; tests/conftest.py wraps
them in fixtures.
"""
