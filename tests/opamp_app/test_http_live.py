"""The OpAMP plain-HTTP transport on a live server: real HTTP clients, concurrency, load shedding."""

import gzip
import threading
import time
import uuid

import pytest
import requests
from django.db import connection, transaction

from gateways_app.models import Gateway
from opamp_core.proto import opamp_pb2
from tests.live import Daphne, free_port
from tests.opamp_app.peer import CONFIG_CAPS, Agent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process, pytest.mark.timeout(60)]

PROTOBUF = "application/x-protobuf"


def post(server, token, message, **headers):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": PROTOBUF, **headers}
    return requests.post(f"{server.url}/v1/opamp", data=message.SerializeToString(), headers=headers, timeout=20)


def test_a_real_http_client_gets_a_gzipped_protobuf_reply(daphne, token, gateway):
    agent = Agent(capabilities=CONFIG_CAPS)
    response = post(daphne, token, agent.message(), **{"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"  # requests inflates .content itself
    assert opamp_pb2.ServerToAgent.FromString(response.content).instance_uid == agent.uid
    assert Gateway.objects.get(pk=gateway.pk).instance_uid == uuid.UUID(bytes=agent.uid)


@pytest.fixture
def one_at_a_time(django_db_setup, redis_prefix):
    server = Daphne([free_port()], FLOWGATE_OPAMP_HTTP_MAX_INFLIGHT=1, FLOWGATE_OPAMP_RETRY_AFTER_SECONDS=45)
    yield server
    server.stop()


def waiting_for_locks():
    with connection.cursor() as cursor:
        # pg_locks, not pg_stat_activity: the latter is a snapshot frozen for the transaction.
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE NOT l.granted AND d.datname = current_database()"
        )
        return cursor.fetchone()[0]


def test_over_the_inflight_limit_it_sheds_load_with_503_retry_after_and_unavailable(one_at_a_time, token):
    agent = Agent(capabilities=CONFIG_CAPS)
    uid_header = {"OpAMP-Instance-UID": str(uuid.UUID(bytes=agent.uid))}
    first = {}
    with transaction.atomic():
        # A stalled database: the first request waits for the token table, and stays in flight.
        connection.cursor().execute("LOCK TABLE gateways_app_opamptoken IN ACCESS EXCLUSIVE MODE")
        thread = threading.Thread(target=lambda: first.update(response=post(one_at_a_time, token, agent.message())))
        thread.start()
        deadline = time.monotonic() + 10
        while not waiting_for_locks() and time.monotonic() < deadline:
            time.sleep(0.05)
        shed = post(one_at_a_time, token, agent.message(), **uid_header)
    thread.join(timeout=20)
    assert first["response"].status_code == 200
    assert (shed.status_code, shed.headers["Retry-After"]) == (503, "45")
    reply = opamp_pb2.ServerToAgent.FromString(shed.content)
    assert reply.error_response.type == opamp_pb2.ServerErrorResponseType_Unavailable
    assert reply.error_response.retry_info.retry_after_nanoseconds == 45 * 10**9
    assert reply.instance_uid == agent.uid  # taken from the OpAMP-Instance-UID header


def test_a_gzipped_request_over_a_real_connection(daphne, token):
    agent = Agent(capabilities=CONFIG_CAPS)
    body = gzip.compress(agent.message().SerializeToString())
    headers = {"Authorization": f"Bearer {token}", "Content-Type": PROTOBUF, "Content-Encoding": "gzip"}
    response = requests.post(f"{daphne.url}/v1/opamp", data=body, headers=headers, timeout=20)
    assert opamp_pb2.ServerToAgent.FromString(response.content).instance_uid == agent.uid


def test_a_token_in_the_query_string_stays_out_of_the_access_log(daphne, token):
    agent = Agent(capabilities=CONFIG_CAPS)
    url = f"{daphne.url}/v1/opamp?token={token}"
    response = requests.post(
        url, data=agent.message().SerializeToString(), headers={"Content-Type": PROTOBUF}, timeout=20
    )
    assert response.status_code == 200
    daphne.output.wait_for("POST /v1/opamp?token=[hidden]", daphne.process, timeout=5)
    assert token not in daphne.output.text()
