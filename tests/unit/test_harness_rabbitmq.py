"""The RabbitMQ harness starts a real broker, and can take it away and back."""

import pytest

from tests.harness.rabbitmq import amqp_handshake

pytestmark = pytest.mark.cluster


def test_broker_speaks_amqp(rabbitmq_server, rabbitmq_url):
    assert rabbitmq_url == f"rabbit://{rabbitmq_server.user}:{rabbitmq_server.password}@127.0.0.1:{rabbitmq_server.port}/"
    assert amqp_handshake("127.0.0.1", rabbitmq_server.port)


def test_outage_and_recovery(rabbitmq_server):
    rabbitmq_server.stop_app()
    try:
        assert not amqp_handshake("127.0.0.1", rabbitmq_server.port)
    finally:
        rabbitmq_server.start_app()  # the broker is shared by the session: bring it back
    assert amqp_handshake("127.0.0.1", rabbitmq_server.port)
