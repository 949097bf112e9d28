"""SMPP delivery receipts, end to end at provider level: the test SMSC sends deliver_sm, the
provider answers each one and hands what it reads to a sink standing in for the service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio

from providers.base import ProviderContext, Receipt
from providers.registry import OptionsInvalid, registry
from providers.smpp import SmppProvider
from tests.peers.smpp_server import SmppServer, malformed_receipts
from tests.waiting import eventually

NAME = "providers.smpp.SmppProvider"
PHONE = "+491701234567"
DONE = datetime(2026, 11, 30, 22, 1, tzinfo=UTC)  # the test SMSC's done date:2611302201
STATS = [
    ("DELIVRD", "delivered"),
    ("EXPIRED", "undeliverable"),
    ("DELETED", "undeliverable"),
    ("UNDELIV", "undeliverable"),
    ("REJECTD", "undeliverable"),
    ("ACCEPTD", "accepted"),
    ("ENROUTE", "enroute"),
    ("UNKNOWN", "unknown"),
]


@dataclass
class Sink:
    """The service's side of the contract: receipts taken, reports rejected."""

    receipts: list[Receipt] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    gateways: set[str] = field(default_factory=set)
    hold: asyncio.Event | None = None  # set: receipts wait for it, as a slow service would
    fail_next: int = 0  # this many receipts raise, as a broken service would
    in_flight: int = 0

    async def take(self, gateway: str, receipt: Receipt) -> None:
        self.gateways.add(gateway)
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("the database is gone")
        self.in_flight += 1
        try:
            if self.hold is not None:
                await self.hold.wait()
            self.receipts.append(receipt)
        finally:
            self.in_flight -= 1

    def reject(self, gateway: str, reason: str) -> None:
        self.gateways.add(gateway)
        self.rejected.append(reason)


@dataclass
class Gateways:
    smsc: SmppServer
    sink: Sink
    made: list[SmppProvider] = field(default_factory=list)
    listening: list[asyncio.Task[None]] = field(default_factory=list)

    def __call__(self, **options: Any) -> SmppProvider:
        raw = {
            "SMSC_HOST": "127.0.0.1",
            "SMSC_PORT": str(self.smsc.port),
            "SYSTEM_ID": "smsgw",
            "PASSWORD": "secret",
            "S_ADDR": "smsgw",
            "S_ADDR_TON": "0x5",
            "TIMEOUT": "5",
            "REGISTERED_DELIVERY": "yes",
            **{key: str(value) for key, value in options.items()},
        }
        context = ProviderContext(
            gateway="smsc1", receipts=self.sink.take, receipt_rejected=self.sink.reject
        )
        provider = SmppProvider(registry.validate(NAME, raw), context=context)
        provider.REBIND_DELAYS = (0.01, 0.02)
        self.made.append(provider)
        return provider

    async def listening_one(self, **options: Any) -> SmppProvider:
        """A gateway whose listen() runs, once its receiving session is bound."""
        provider = self(**options)
        self.listening.append(asyncio.create_task(provider.listen()))
        await eventually(lambda: self.smsc.receivers == 1)
        return provider


@pytest_asyncio.fixture
async def smsc() -> AsyncIterator[SmppServer]:
    server = await SmppServer().start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def sink() -> Sink:
    return Sink()


@pytest_asyncio.fixture
async def gateway(smsc: SmppServer, sink: Sink) -> AsyncIterator[Gateways]:
    made = Gateways(smsc, sink)
    yield made
    for provider in made.made:
        await provider.aclose()
    for task in made.listening:
        assert task.done()  # aclose ended listen(): no task is left behind


def provider_tasks() -> list[asyncio.Task[Any]]:
    """Tasks still running code of the SMPP provider or its sessions."""
    names = ("Session.", "SmppProvider.")
    return [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "").startswith(names)
    ]


def answered(smsc: SmppServer, sequence: int) -> bool:
    return any(a.sequence == sequence for a in smsc.receipt_answers)


async def test_without_registered_delivery_no_receipt_is_asked_for(gateway, smsc, sink):
    smsc.auto_receipt = "DELIVRD"
    provider = gateway(REGISTERED_DELIVERY="no")
    assert not provider.receives_receipts
    await provider.listen()  # returns at once: nothing to listen for
    await provider.send(PHONE, "123456")
    assert smsc.submitted[0].registered_delivery == 0
    assert smsc.bound == ["transmitter"] and smsc.receipts_sent == 0


async def test_with_registered_delivery_every_part_asks_for_a_receipt_on_a_transceiver(
    gateway, smsc
):
    provider = gateway()
    assert provider.receives_receipts
    await provider.send(PHONE, "".join(str(n % 10) for n in range(200)))
    assert [m.registered_delivery for m in smsc.submitted] == [1, 1]
    assert smsc.bound == ["transceiver"]


async def test_sends_share_the_session_listen_holds(gateway, smsc):
    provider = await gateway.listening_one()
    await provider.send(PHONE, "123456")
    assert smsc.binds == 1 and smsc.bound == ["transceiver"]


@pytest.mark.parametrize(("stat", "state"), STATS)
async def test_each_stat_of_a_text_receipt_is_its_state(gateway, smsc, sink, stat, state):
    provider = await gateway.listening_one()
    [message_id] = (await provider.send(PHONE, "123456")).message_ids
    sequence = await smsc.send_receipt(message_id, stat)
    await eventually(lambda: len(sink.receipts) == 1)
    assert sink.receipts == [Receipt(message_id, state, stat, DONE, "")]
    assert sink.gateways == {"smsc1"}
    await eventually(lambda: answered(smsc, sequence))
    [answer] = smsc.receipt_answers
    assert (answer.sequence, answer.status, answer.body) == (sequence, 0, b"\0")


@pytest.mark.parametrize(("stat", "state"), STATS)
async def test_each_message_state_of_a_tlv_receipt_is_its_state(gateway, smsc, sink, stat, state):
    provider = await gateway.listening_one()
    [message_id] = (await provider.send(PHONE, "123456")).message_ids
    await smsc.send_receipt(message_id, stat, form="tlv")
    await eventually(lambda: len(sink.receipts) == 1)
    assert sink.receipts == [Receipt(message_id, state, stat)]  # no text: no date, no error


async def test_the_receipted_message_id_tlv_wins_over_the_id_of_the_text(gateway, smsc, sink):
    provider = await gateway.listening_one()
    [message_id] = (await provider.send(PHONE, "123456")).message_ids
    await smsc.send_receipt(message_id, "UNDELIV", form="both", text_id="999", err="034")
    await eventually(lambda: len(sink.receipts) == 1)
    assert sink.receipts == [Receipt(message_id, "undeliverable", "UNDELIV", DONE, "034")]


@pytest.mark.parametrize(
    ("submit_form", "receipt_id", "option", "reported"),
    [
        ("hex", lambda i: i, "as_is", "000000A1"),
        ("decimal", lambda i: f"{int(i):X}", "hex_to_decimal", "1001"),
        ("hex", lambda i: str(int(i, 16)), "decimal_to_hex", "a1"),
    ],
)
async def test_the_receipt_id_is_brought_to_the_form_send_reported(
    gateway, smsc, sink, submit_form, receipt_id, option, reported
):
    smsc.message_ids = submit_form
    provider = await gateway.listening_one(RECEIPT_ID=option)
    [message_id] = (await provider.send(PHONE, "123456")).message_ids
    assert message_id == reported
    [raw] = smsc.given_ids  # as the submit_sm_resp wrote it
    await smsc.send_receipt(receipt_id(raw), "DELIVRD")
    await smsc.send_receipt(receipt_id(raw), "DELIVRD", form="tlv")
    await eventually(lambda: len(sink.receipts) == 2)
    assert [r.provider_id for r in sink.receipts] == [message_id, message_id]


async def test_a_receipt_id_not_in_the_base_the_option_says_is_rejected(gateway, smsc, sink):
    await gateway.listening_one(RECEIPT_ID="decimal_to_hex")
    sequence = await smsc.send_receipt("00000A1", "DELIVRD")
    await eventually(lambda: len(sink.rejected) == 1)
    assert "not decimal" in sink.rejected[0] and sink.receipts == []
    assert answered(smsc, sequence)


async def test_a_long_message_gets_one_receipt_per_part(gateway, smsc, sink):
    smsc.auto_receipt = "DELIVRD"
    provider = await gateway.listening_one()
    result = await provider.send(PHONE, "".join(str(n % 10) for n in range(400)))
    assert result.parts == 3
    await eventually(lambda: len(sink.receipts) == 3)
    assert sorted(r.provider_id for r in sink.receipts) == sorted(result.message_ids)
    assert {r.state for r in sink.receipts} == {"delivered"}


async def test_a_duplicate_receipt_is_answered_and_handed_on_again(gateway, smsc, sink):
    provider = await gateway.listening_one()
    [message_id] = (await provider.send(PHONE, "123456")).message_ids
    first = await smsc.send_receipt(message_id, "DELIVRD")
    second = await smsc.send_receipt(message_id, "DELIVRD")
    await eventually(lambda: len(sink.receipts) == 2 and answered(smsc, second))
    assert sink.receipts[0] == sink.receipts[1]  # the service's upsert makes it idempotent
    assert [a.sequence for a in smsc.receipt_answers] == [first, second]


async def test_a_receipt_before_the_submit_answer_is_still_handed_on(gateway, smsc, sink):
    smsc.receipt_before_answer, smsc.auto_receipt = "ACCEPTD", "DELIVRD"
    provider = await gateway.listening_one()
    [message_id] = (await provider.send(PHONE, "123456")).message_ids
    await eventually(lambda: len(sink.receipts) == 2)
    assert sorted((r.provider_id, r.state) for r in sink.receipts) == [
        (message_id, "accepted"),
        (message_id, "delivered"),
    ]


@pytest.mark.parametrize("kind", sorted(malformed_receipts()))
async def test_a_malformed_receipt_is_answered_counted_and_the_next_one_still_read(
    gateway, smsc, sink, kind
):
    provider = await gateway.listening_one()
    sequence = await smsc.deliver(malformed_receipts()[kind])
    await eventually(lambda: answered(smsc, sequence))
    await eventually(lambda: len(sink.rejected) == 1)
    [answer] = smsc.receipt_answers
    assert (answer.status, answer.body) == (0, b"\0")
    [message_id] = (await provider.send(PHONE, "123456")).message_ids
    await smsc.send_receipt(message_id, "DELIVRD")
    await eventually(lambda: len(sink.receipts) == 1)
    assert len(sink.rejected) == 1 and smsc.binds == 1


async def test_a_mobile_originated_deliver_sm_is_answered_and_ignored(gateway, smsc, sink):
    await gateway.listening_one()
    sequence = await smsc.send_mobile_originated("STOP")
    await eventually(lambda: answered(smsc, sequence))
    await smsc.send_receipt("msg-9", "DELIVRD")  # read after it: nothing else was handed on
    await eventually(lambda: len(sink.receipts) == 1)
    assert sink.rejected == [] and [r.provider_id for r in sink.receipts] == ["msg-9"]


async def test_a_slow_service_does_not_hold_up_the_reader(gateway, smsc, sink):
    sink.hold = asyncio.Event()
    provider = await gateway.listening_one()
    for n in range(3):
        await smsc.send_receipt(f"msg-{n}", "DELIVRD")
    await eventually(lambda: len(smsc.receipt_answers) == 3 and sink.in_flight == 3)
    await provider.send(PHONE, "123456")  # the session still answers while receipts wait
    sink.hold.set()
    await eventually(lambda: len(sink.receipts) == 3)


async def test_a_failing_service_is_logged_and_the_next_receipt_still_arrives(
    gateway, smsc, sink, caplog
):
    sink.fail_next = 1
    await gateway.listening_one()
    await smsc.send_receipt("msg-1", "DELIVRD")
    await smsc.send_receipt("msg-2", "DELIVRD")
    await eventually(lambda: len(sink.receipts) == 1)
    assert sink.receipts[0].provider_id == "msg-2" and smsc.receivers == 1
    assert "RuntimeError" in caplog.text and "database is gone" not in caplog.text


async def test_listen_binds_again_after_the_smsc_drops_the_connection(gateway, smsc, sink):
    provider = await gateway.listening_one()
    smsc.drop_connections()
    await eventually(lambda: smsc.binds == 2 and smsc.receivers == 1)
    await smsc.send_receipt("msg-1", "DELIVRD")
    await eventually(lambda: len(sink.receipts) == 1)
    await provider.send(PHONE, "123456")  # sends take the new session
    assert smsc.binds == 2


async def test_listen_binds_again_after_the_smsc_unbinds(gateway, smsc, sink):
    await gateway.listening_one()
    await smsc.unbind_clients()
    await eventually(lambda: any(a[0] == 0x80000006 for a in smsc.client_answers))
    await eventually(lambda: len(smsc.bound) == 2 and smsc.receivers == 1)
    await smsc.send_receipt("msg-1", "DELIVRD")
    await eventually(lambda: len(sink.receipts) == 1)


async def test_listen_keeps_trying_while_the_smsc_refuses_the_bind(gateway, smsc):
    smsc.bind_status = 0x08  # ESME_RSYSERR
    provider = gateway()
    task = asyncio.create_task(provider.listen())
    gateway.listening.append(task)
    await eventually(lambda: smsc.binds >= 3)
    smsc.bind_status = 0
    await eventually(lambda: smsc.receivers == 1)
    assert not task.done()


async def test_with_bind_transmitter_receipts_come_on_a_receiver_session(gateway, smsc, sink):
    smsc.auto_receipt = "DELIVRD"
    provider = await gateway.listening_one(BIND="transmitter")
    [message_id] = (await provider.send(PHONE, "123456")).message_ids
    await eventually(lambda: len(sink.receipts) == 1)
    assert sink.receipts[0].provider_id == message_id
    assert smsc.bound == ["receiver", "transmitter"]


async def test_aclose_ends_listen_even_during_a_bind_that_gets_no_answer(gateway, smsc):
    smsc.silent_bind = True
    provider = gateway(TIMEOUT="60")
    task = asyncio.create_task(provider.listen())
    gateway.listening.append(task)
    await eventually(lambda: smsc.connections == 1)
    await provider.aclose()
    await eventually(task.done)
    assert task.exception() is None
    await eventually(lambda: smsc.connections == 0)


async def test_aclose_unbinds_and_leaves_no_task_running(gateway, smsc, sink):
    before = set(provider_tasks())
    provider = await gateway.listening_one()
    await smsc.send_receipt("msg-1", "DELIVRD")
    await eventually(lambda: len(sink.receipts) == 1)
    await provider.aclose()
    assert gateway.listening[0].done() and gateway.listening[0].exception() is None
    assert set(provider_tasks()) - before == set()
    assert smsc.unbinds == 1


async def test_aclose_lets_receipts_already_taken_reach_the_service(gateway, smsc, sink):
    sink.hold = asyncio.Event()
    provider = await gateway.listening_one()
    await smsc.send_receipt("msg-1", "DELIVRD")
    await eventually(lambda: sink.in_flight == 1)
    closing = asyncio.create_task(provider.aclose())
    await eventually(lambda: smsc.unbinds == 1)
    sink.hold.set()
    await closing
    assert [r.provider_id for r in sink.receipts] == ["msg-1"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("REGISTERED_DELIVERY", "maybe"),
        ("REGISTERED_DELIVERY", "1"),
        ("BIND", "receiver"),
        ("RECEIPT_ID", "octal"),
    ],
)
def test_bad_receipt_options_name_the_key(key, value):
    raw = {"SMSC_HOST": "smsc.example.com", "SYSTEM_ID": "smsgw", key: value}
    with pytest.raises(OptionsInvalid) as error:
        registry.validate(NAME, raw)
    assert [k for k, _ in error.value.errors] == [key]


@pytest.mark.parametrize(
    ("options", "mode"),
    [
        ({}, "transmitter"),
        ({"REGISTERED_DELIVERY": "yes"}, "transceiver"),
        ({"REGISTERED_DELIVERY": "yes", "BIND": ""}, "transceiver"),
        ({"REGISTERED_DELIVERY": "yes", "BIND": "transmitter"}, "transmitter"),
        ({"BIND": "transceiver"}, "transceiver"),
    ],
)
def test_the_bind_is_a_transceiver_by_default_when_receipts_are_on(options, mode):
    raw: dict[str, str] = {"SMSC_HOST": "h", "SYSTEM_ID": "s", **options}
    assert registry.validate(NAME, raw).bind_mode == mode  # type: ignore[attr-defined]


def test_the_receipt_options_are_in_the_schema_with_their_values():
    parameters = registry.schema()[NAME]["parameters"]
    assert parameters["REGISTERED_DELIVERY"]["values"] == ["yes", "no"]
    assert parameters["REGISTERED_DELIVERY"]["default"] == "no"
    assert parameters["BIND"]["values"] == ["transceiver", "transmitter"]
    assert parameters["RECEIPT_ID"]["values"] == ["as_is", "hex_to_decimal", "decimal_to_hex"]
