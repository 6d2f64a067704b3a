"""Fixtures for the collaboration tests: scripted OpenAI-compatible servers on loopback."""

from __future__ import annotations

import pytest

from srl_pipeline_tests.collaboration.chat_server import ChatServer, Responder


@pytest.fixture
def chat_server_factory():
    """`start(responder) -> ChatServer` (already listening on 127.0.0.1); all are stopped afterwards."""
    servers: list[ChatServer] = []

    def start(responder: Responder) -> ChatServer:
        server = ChatServer(responder).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
