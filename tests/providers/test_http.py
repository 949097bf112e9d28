"""The HTTP provider against a real local HTTP server: what arrives is asserted byte for byte."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from providers.base import (
    OutcomeUnknown,
    RejectedByGateway,
    SendError,
    SendResult,
    TemporaryFailure,
    Throttled,
    TimedOut,
    Unreachable,
)
from providers.http import HttpProvider
from providers.http_client import retry_after
from providers.registry import OptionsInvalid, registry
from tests.peers.http_sink import HttpSink
from tests.peers.ports import free_port

SendWith = Callable[..., Awaitable[SendResult]]


@pytest_asyncio.fixture
async def send_with(http_sink: HttpSink) -> AsyncIterator[SendWith]:
    providers: list[HttpProvider] = []

    async def send(
        phone: str = "+491701234567",
        message: str = "123456",
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> SendResult:
        options.setdefault("URL", http_sink.url + "/send")
        raw = {key: str(value) for key, value in options.items()}
        provider = HttpProvider(registry.validate("providers.http.HttpProvider", raw), headers)
        providers.append(provider)
        return await provider.send(phone, message)

    yield send
    for provider in providers:
        await provider.aclose()


async def test_get_sends_the_extra_options_as_a_query_with_tags_substituted(send_with, http_sink):
    await send_with(text="Code {otp}", to="{phone}")
    assert http_sink.last.method == "GET"
    assert http_sink.last.path == "/send"
    assert http_sink.last.query == "text=Code+123456&to=%2B491701234567"
    assert http_sink.last.body == b""


async def test_post_form_reaches_the_gateway(send_with, http_sink):
    await send_with(HTTP_METHOD="POST", text="{otp}")
    assert http_sink.last.body == b"text=123456"
    assert http_sink.last.headers["Content-Type"] == "application/x-www-form-urlencoded"


async def test_post_json_sends_an_object(send_with, http_sink):
    await send_with(HTTP_METHOD="POST", SEND_DATA_AS_JSON="yes", text="{otp}", to="{phone}")
    assert json.loads(http_sink.last.body) == {"text": "123456", "to": "+491701234567"}
    assert http_sink.last.headers["Content-Type"] == "application/json"


async def test_privacyidea_angle_tags_are_substituted_too(send_with, http_sink):
    await send_with(text="<otp>", number="<phone>")
    assert http_sink.last.query == "text=123456&number=%2B491701234567"


async def test_headers_are_sent(send_with, http_sink):
    await send_with(headers={"X-Api-Key": "k3y"}, text="{otp}")
    assert http_sink.last.headers["X-Api-Key"] == "k3y"


async def test_basic_auth_from_options(send_with, http_sink):
    await send_with(USERNAME="user", PASSWORD="p@ss", text="{otp}")
    expected = "Basic " + base64.b64encode(b"user:p@ss").decode()
    assert http_sink.last.headers["Authorization"] == expected


async def test_basic_auth_from_url_userinfo(send_with, http_sink):
    url = http_sink.url.replace("http://", "http://alice:s3cret@") + "/send"
    await send_with(URL=url, text="{otp}")
    expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert http_sink.last.headers["Authorization"] == expected


async def test_regexp_rewrites_the_phone_number(send_with, http_sink):
    await send_with(REGEXP="/^\\+49/0/", to="{phone}")
    assert http_sink.last.query == "to=01701234567"


async def test_regexp_removing_separators(send_with, http_sink):
    await send_with(phone="+49 170-123.4567", REGEXP="/[+-/. ]//", to="{phone}")
    assert http_sink.last.query == "to=491701234567"


@pytest.mark.parametrize("status", [200, 201, 202])
async def test_statuses_200_201_202_are_success(send_with, http_sink, status):
    http_sink.status = status
    result = await send_with(text="{otp}")
    assert result.raw_status.startswith(str(status))


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, TemporaryFailure),
        (502, TemporaryFailure),
        (503, TemporaryFailure),
        (400, RejectedByGateway),
        (401, RejectedByGateway),
        (403, RejectedByGateway),
        (404, RejectedByGateway),
    ],
)
async def test_each_status_class_is_its_send_error(send_with, http_sink, status, kind):
    http_sink.status, http_sink.reply = status, "no"
    with pytest.raises(SendError) as failure:
        await send_with(text="{otp}")
    assert type(failure.value) is kind
    assert failure.value.code == f"http_{status}"
    assert failure.value.retryable is (status >= 500)


async def test_429_is_throttled_with_the_gateways_retry_after(send_with, http_sink):
    http_sink.status, http_sink.reply_headers = 429, {"Retry-After": "7"}
    with pytest.raises(Throttled) as failure:
        await send_with(text="{otp}")
    assert failure.value.code == "http_429" and failure.value.retry_after == 7.0
    assert failure.value.retryable
    http_sink.reply_headers = {}
    with pytest.raises(Throttled) as failure:
        await send_with(text="{otp}")
    assert failure.value.retry_after is None


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after("120") == 120.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert retry_after("soon") is None and retry_after(None) is None
    assert retry_after("١٢") is None  # Arabic-Indic digits are no delay-seconds


async def test_return_success_marker_must_be_in_the_reply(send_with, http_sink):
    http_sink.reply = "STATUS=queued"
    await send_with(RETURN_SUCCESS="queued", text="{otp}")
    with pytest.raises(RejectedByGateway, match="success marker"):
        await send_with(RETURN_SUCCESS="delivered", text="{otp}")


async def test_return_fail_marker_is_rejected_by_the_gateway(send_with, http_sink):
    http_sink.reply = "ERROR: no credit"
    with pytest.raises(RejectedByGateway, match="fail marker") as failure:
        await send_with(RETURN_FAIL="ERROR", text="{otp}")
    assert failure.value.code == "rejected" and not failure.value.retryable


async def test_a_gateway_that_hangs_past_timeout_timed_out_and_the_next_send_works(
    send_with, http_sink
):
    http_sink.delay = 2
    with pytest.raises(TimedOut) as failure:
        await send_with(TIMEOUT="0.2", text="{otp}")
    assert failure.value.code == "timeout" and failure.value.retryable
    http_sink.delay = 0
    await send_with(text="{otp}")


async def test_a_gateway_that_is_down_is_unreachable():
    provider = HttpProvider(
        registry.validate(
            "providers.http.HttpProvider", {"URL": f"http://127.0.0.1:{free_port()}/x"}
        )
    )
    with pytest.raises(Unreachable) as failure:
        await provider.send("+491701234567", "1")
    assert failure.value.code == "connection" and failure.value.retryable
    await provider.aclose()


async def test_a_connection_closed_after_the_request_leaves_the_outcome_unknown(
    send_with, http_sink
):
    http_sink.close_connection = True
    with pytest.raises(OutcomeUnknown) as failure:
        await send_with(HTTP_METHOD="POST", text="{otp}")
    assert failure.value.code == "connection_lost"
    assert http_sink.count == 1  # the gateway did receive it
    http_sink.close_connection = False
    await send_with(text="{otp}")


@pytest.mark.parametrize("value", ["k3y\r\nX-Injected: 1", "k3y\nX: 1", "k3y\r"])
async def test_a_line_break_in_a_header_value_is_rejected_by_the_gateway(
    send_with, http_sink, value
):
    with pytest.raises(RejectedByGateway) as failure:
        await send_with(headers={"X-Api-Key": value}, text="{otp}")
    assert failure.value.code == "header" and "X-Api-Key" in failure.value.message
    assert http_sink.count == 0


async def test_a_header_value_http_cannot_carry_is_rejected_by_the_gateway(send_with, http_sink):
    with pytest.raises(RejectedByGateway):
        await send_with(headers={"X-Api-Key": "ключ"}, text="{otp}")
    assert http_sink.count == 0


async def test_one_provider_reuses_its_connection(http_sink):
    provider = HttpProvider(
        registry.validate("providers.http.HttpProvider", {"URL": http_sink.url, "t": "{otp}"})
    )
    for _ in range(5):
        await provider.send("+491701234567", "1")
    peers = {r.peer for r in http_sink.requests}
    assert len(http_sink.requests) == 5 and len(peers) == 1
    session = provider.session()
    await provider.aclose()
    assert session.closed


async def test_check_ssl_no_reaches_a_self_signed_https_gateway(tmp_path):
    trustme = pytest.importorskip("trustme")
    import ssl

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    sink = HttpSink()
    await sink.start_tls(server_context)
    try:
        raw = {"URL": sink.url + "/x", "CHECK_SSL": "no", "t": "{otp}"}
        provider = HttpProvider(registry.validate("providers.http.HttpProvider", raw))
        await provider.send("+491701234567", "42")
        assert sink.last.query == "t=42"
        await provider.aclose()
        strict = HttpProvider(
            registry.validate("providers.http.HttpProvider", {**raw, "CHECK_SSL": "yes"})
        )
        with pytest.raises(Unreachable):  # the TLS handshake fails: nothing was sent
            await strict.send("+491701234567", "42")
        await strict.aclose()
    finally:
        await sink.stop()


async def test_a_proxy_option_routes_the_request_through_the_proxy(send_with, http_sink):
    # The sink plays the proxy: an HTTP proxy receives the absolute URL in the request line.
    await send_with(URL="http://sms.invalid/send", HTTP_PROXY=http_sink.url, text="{otp}")
    assert http_sink.last.headers["Host"] == "sms.invalid"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("URL", "not a url"),
        ("HTTP_METHOD", "PUT"),
        ("TIMEOUT", "soon"),
        ("CHECK_SSL", "maybe"),
        ("REGEXP", "no-slashes"),
    ],
)
def test_bad_options_are_named(key, value):
    raw = {"URL": "http://127.0.0.1/x", key: value}
    with pytest.raises(OptionsInvalid) as invalid:
        registry.validate("providers.http.HttpProvider", raw)
    assert [field for field, _ in invalid.value.errors] == [key]


def test_the_schema_marks_password_secret_and_lists_method_values():
    parameters = registry.schema()["providers.http.HttpProvider"]["parameters"]
    assert parameters["PASSWORD"]["secret"] is True
    assert parameters["HTTP_METHOD"]["values"] == ["GET", "POST"]
    assert parameters["URL"]["required"] is True


async def test_the_submit_answer_id_is_read_from_a_json_path(send_with, http_sink):
    http_sink.reply = '{"data": {"message_id": 4711}}'
    result = await send_with(MESSAGE_ID_FIELD="data.message_id")
    assert result.message_ids == ["4711"] and result.parts == 1


async def test_a_list_in_the_path_gives_one_id_per_part(send_with, http_sink):
    http_sink.reply = '{"messages": [{"id": "a"}, {"id": "b"}, {"status": "x"}]}'
    result = await send_with(MESSAGE_ID_FIELD="messages.id")
    assert result.message_ids == ["a", "b"] and result.parts == 2


async def test_the_submit_answer_id_is_read_by_a_regex_group(send_with, http_sink):
    http_sink.reply = "OK id=ab12 id=cd34"
    result = await send_with(MESSAGE_ID_FIELD="/id=([0-9a-f]+)/")
    assert result.message_ids == ["ab12", "cd34"]


async def test_an_answer_without_the_id_is_still_sent_but_without_ids(send_with, http_sink):
    http_sink.reply = "not json"
    assert (await send_with(MESSAGE_ID_FIELD="message_id")).message_ids == []
    http_sink.reply = '{"other": 1}'
    assert (await send_with(MESSAGE_ID_FIELD="message_id")).message_ids == []


async def test_without_the_option_no_id_is_read(send_with, http_sink):
    http_sink.reply = '{"message_id": "x"}'
    assert (await send_with()).message_ids == []


def test_the_report_options_do_not_travel_to_the_gateway_as_parameters():
    options = registry.validate(
        "providers.http.HttpProvider",
        {"URL": "http://127.0.0.1/", "MESSAGE_ID_FIELD": "id", "DLR_STATUS_MAP": "0=delivered"},
    )
    assert options.extra_options() == {}
