"""SMPP delivery receipts through the service: the test SMSC's deliver_sm reaches the
message record, by way of the listening session and the receipts table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from tests.delivery.receipts_helpers import send, stored
from tests.peers.smpp_server import SmppServer
from tests.waiting import eventually, eventually_async


@pytest_asyncio.fixture
async def smsc() -> AsyncIterator[SmppServer]:
    server = await SmppServer().start()
    yield server
    await server.stop()


async def _smpp_gateway(api: Any, smsc: SmppServer, name: str = "smsc") -> None:
    await api.post(
        "/smsgateway",
        {
            "name": name,
            "module": "providers.smpp.SmppProvider",
            "option.SMSC_HOST": "127.0.0.1",
            "option.SMSC_PORT": str(smsc.port),
            "option.SYSTEM_ID": "smsgw",
            "option.PASSWORD": "secret",
            "option.REGISTERED_DELIVERY": "yes",
        },
    )


async def _status(api: Any, message_id: int) -> str:
    status: str = (await stored(api, message_id))["status"]
    return status


async def _reaches(api: Any, message_id: int, wanted: str) -> None:
    """Wait until the message record says `wanted` (the receipt is applied as it comes)."""

    async def reached() -> bool:
        return await _status(api, message_id) == wanted

    await eventually_async(reached)


async def test_an_smpp_receipt_marks_the_message_delivered(admin_api, smsc):
    smsc.auto_receipt = "DELIVRD"
    await _smpp_gateway(admin_api, smsc)
    record = await send(admin_api, gateway="smsc")
    assert record["status"] == "sent"
    await _reaches(admin_api, record["id"], "delivered")
    assert (await stored(admin_api, record["id"]))["reported_at"] is not None


async def test_an_undeliverable_receipt_on_the_listening_session_lands(admin_api, smsc):
    await _smpp_gateway(admin_api, smsc)
    await eventually(lambda: smsc.receivers >= 1)  # the service keeps a session to listen
    record = await send(admin_api, gateway="smsc")
    [provider_id] = record["provider_ids"]
    await smsc.send_receipt(provider_id, "UNDELIV", form="tlv")
    await _reaches(admin_api, record["id"], "undeliverable")
    await smsc.send_receipt(provider_id, "DELIVRD", form="text")  # a final state stays
    await eventually(lambda: len(smsc.receipt_answers) == 2)
    assert await _status(admin_api, record["id"]) == "undeliverable"


async def test_a_receipt_before_the_submit_answer_is_kept_and_applied(admin_api, smsc):
    smsc.receipt_before_answer = "DELIVRD"
    await _smpp_gateway(admin_api, smsc)
    record = await send(admin_api, gateway="smsc")
    await _reaches(admin_api, record["id"], "delivered")
