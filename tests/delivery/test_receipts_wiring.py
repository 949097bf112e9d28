"""A provider that receives reports on its own connection (as an SMPP transceiver does) is
kept listening by the service, and its receipts reach the outbox through the context."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import ClassVar, Literal

import pytest
from pydantic import Field

from app.delivery import listeners
from providers.base import Provider, ProviderOptions, Receipt, SendResult
from providers.registry import registry
from tests.delivery.helpers import PHONE, messages
from tests.waiting import eventually

MODULE = "tests.delivery.ListeningProvider"


class ListeningOptions(ProviderOptions):
    LABEL: str = Field("a", description="Changing it changes the definition")
    REPORTS: Literal["yes", "no"] = Field("yes", description="Whether it receives reports")


class ListeningProvider(Provider[ListeningOptions]):
    """Sends nowhere; gives ids p1, p2, ...; its listen() runs until cancelled."""

    options_model = ListeningOptions
    instances: ClassVar[list[ListeningProvider]] = []
    ids: ClassVar[Iterator[int]] = itertools.count(1)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.listening = False
        self.stopped = False
        ListeningProvider.instances.append(self)

    @property
    def receives_receipts(self) -> bool:
        return self.options.REPORTS == "yes"

    async def listen(self) -> None:
        self.listening = True
        try:
            await asyncio.Event().wait()
        finally:
            self.listening, self.stopped = False, True

    async def send(self, phone: str, message: str) -> SendResult:
        return SendResult(message_ids=[f"p{next(self.ids)}"])


@pytest.fixture
def listening_module() -> Iterator[type[ListeningProvider]]:
    registry.register(MODULE)(ListeningProvider)
    ListeningProvider.instances.clear()
    ListeningProvider.ids = itertools.count(1)
    try:
        yield ListeningProvider
    finally:
        registry._providers.pop(MODULE, None)
        registry._aliases.pop(MODULE, None)


async def _gateway(api, name: str = "tx", **options: str) -> None:
    body = {"name": name, "module": MODULE, **{f"option.{k}": v for k, v in options.items()}}
    await api.post("/smsgateway", body)


def _live(name: str) -> list[ListeningProvider]:
    return [p for p in ListeningProvider.instances if p.context.gateway == name and p.listening]


def _ready(name: str) -> bool:
    return len(_live(name)) == 1


async def test_a_gateway_that_receives_reports_is_listened_to_once_defined(
    admin_api, runtime, listening_module
):
    await _gateway(admin_api)
    await eventually(lambda: _ready("tx"))
    assert runtime.pool.listening() == ["tx"]


async def test_its_receipts_reach_the_message_through_the_context(
    admin_api, runtime, listening_module
):
    await _gateway(admin_api)
    await eventually(lambda: _ready("tx"))
    record = await admin_api.post("/sms/send", {"gateway": "tx", "phone": PHONE, "message": "x"})
    assert record["provider_ids"] == ["p1"]
    [provider] = _live("tx")
    await provider.report(Receipt(provider_id="p1", state="delivered", provider_status="DELIVRD"))
    [message] = await messages(admin_api, status="delivered")
    assert message["id"] == record["id"]


async def test_a_receipt_matching_nothing_is_counted_and_logged_not_raised(
    admin_api, anonymous_api, runtime, listening_module, caplog
):
    await _gateway(admin_api)
    await eventually(lambda: _ready("tx"))
    [provider] = _live("tx")
    await provider.report(Receipt(provider_id="nobody", state="delivered"))
    await provider.report(Receipt(provider_id="p1", state="lost"))
    provider.reject_report("no id: in the text")
    scrape = (await anonymous_api.client.get("/metrics")).text
    for reason in ("unknown_id", "bad_state", "unreadable"):
        assert f'smsgw_dlr_rejected_total{{gateway="tx",reason="{reason}"}}' in scrape
    assert "unknown_id" in caplog.text


async def test_a_changed_definition_listens_anew_and_a_deleted_one_stops(
    admin_api, runtime, listening_module
):
    await _gateway(admin_api)
    await eventually(lambda: _ready("tx"))
    [first] = _live("tx")
    await _gateway(admin_api, LABEL="b")
    await eventually(lambda: _ready("tx") and first.stopped)
    [second] = _live("tx")
    assert second is not first and second.options.LABEL == "b"
    await _gateway(admin_api, REPORTS="no")  # no longer receives reports: nobody listens
    await eventually(lambda: second.stopped and not _live("tx"))
    await _gateway(admin_api, LABEL="c")
    await eventually(lambda: _ready("tx"))
    [third] = _live("tx")
    await admin_api.delete("/smsgateway/tx")
    await eventually(lambda: third.stopped)
    assert runtime.pool.listening() == []


async def test_shutdown_stops_every_listener(admin_api, runtime, listening_module):
    await _gateway(admin_api, "one")
    await _gateway(admin_api, "two")
    await eventually(lambda: bool(_live("one")) and bool(_live("two")))
    await runtime.pool.aclose()
    assert all(p.stopped for p in ListeningProvider.instances)


async def test_a_gateway_defined_by_another_worker_is_picked_up_by_the_refresh(
    admin_api, runtime, listening_module
):
    await _gateway(admin_api)
    await eventually(lambda: _ready("tx"))
    await runtime.pool.aclose()  # as if this process had never seen it
    assert not _live("tx")
    await listeners.refresh(runtime)
    await eventually(lambda: _ready("tx"))


async def test_a_retired_instance_listens_until_its_last_send_is_done(
    admin_api, runtime, listening_module
):
    from app.services import gateways

    await _gateway(admin_api)
    await eventually(lambda: _ready("tx"))
    [first] = _live("tx")
    config = await gateways.load_config(runtime, "tx")
    async with runtime.pool.lease(config):  # a send in flight on the first instance
        await _gateway(admin_api, LABEL="b")
        await eventually(lambda: len([p for p in ListeningProvider.instances if p.listening]) == 2)
        assert first.listening
    await eventually(lambda: first.stopped)
