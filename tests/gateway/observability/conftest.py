from tests.gateway.proxy.conftest import client, fake_engine, gateway, logs

__all__ = ["client", "fake_engine", "gateway", "logs"]
