"""SMSGW_LOG_FORMAT=json: one object per line with the request's id, route, status and
latency, the message id and gateway of a send, and never a PIN, OTP, text, full number
or secret."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import logging.config
import re
from collections.abc import Iterator
from contextlib import contextmanager

from app.logs import log_config
from app.observability import context, sends
from app.observability.json_logs import scrub
from tests.api.sms_login import PHONE, enrol

PIN = "pin-Quokka7"
TEXT = "Parcel Q-5521-Z waits at the depot"
# A part of the text that no request id, time or count can hold by chance (a bare "5521"
# turned up inside a random hex request id).
TEXT_PART = "Q-5521-Z"
NUMBER = "+447700900123"
GATEWAY_SECRET = "gw-Secret-Value-42"


@contextmanager
def json_logs() -> Iterator[io.StringIO]:
    """The service's own JSON logging at DEBUG, written into a buffer."""
    config = log_config("DEBUG", "json")
    formatter = logging.config.DictConfigurator(config).configure_formatter(  # type: ignore[attr-defined]
        dict(config["formatters"]["default"])
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    saved_level = root.level
    saved = {name: logging.getLogger(name).level for name in config["loggers"] if name}
    for name, options in config["loggers"].items():
        if name and "level" in options:
            logging.getLogger(name).setLevel(options["level"])
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


async def test_a_whole_login_and_send_logs_no_pin_otp_text_number_or_secret(admin_api, http_sink):
    with json_logs() as stream:
        await admin_api.post(
            "/smsgateway",
            {
                "name": "sms-gw",
                "module": "providers.http.HttpProvider",
                "option.URL": http_sink.url + "/send",
                "option.HTTP_METHOD": "GET",  # the number and the text travel in the URL
                "option.to": "{phone}",
                "option.text": "{otp}",
                "option.PASSWORD": GATEWAY_SECRET,
            },
        )
        await admin_api.post("/system/setConfig", {"sms.identifier": "sms-gw"})
        serial = await enrol(admin_api, pin=PIN)
        challenge = await admin_api.client.post(
            "/validate/check", json={"user": "alice", "realm": "corp", "pass": PIN}
        )
        transaction_id = challenge.json()["detail"]["transaction_id"]
        otp = http_sink.last.query.rsplit("text=", 1)[1]
        answer = await admin_api.client.post(
            "/validate/check",
            json={"serial": serial, "transaction_id": transaction_id, "pass": otp},
            headers={"X-Request-ID": "login-42"},
        )
        assert answer.json()["result"]["value"] is True
        sent = await admin_api.post(
            "/sms/send", {"gateway": "sms-gw", "phone": NUMBER, "message": TEXT}
        )
        # A gateway that echoes what it was sent into its error, which is logged.
        http_sink.status, http_sink.reply = 500, f"refused {NUMBER} {TEXT}"
        await admin_api.request(
            "POST", "/sms/send", json={"gateway": "sms-gw", "phone": NUMBER, "message": TEXT}
        )
        await admin_api.request("GET", f"/token/?serial={serial}&pass={PIN}")
        key = (await admin_api.post("/apikey", {"name": "app", "actions": ["sms_send"]}))["key"]
        await admin_api.client.post(
            "/sms/send",
            json={"gateway": "nope", "phone": NUMBER, "message": TEXT},
            headers={"Authorization": f"Bearer {key}"},
        )

    log = stream.getvalue()
    entries = [json.loads(line) for line in log.splitlines()]  # every line is one object
    forbidden = [PIN, otp, TEXT, TEXT_PART, NUMBER, NUMBER[1:], PHONE, PHONE[1:], GATEWAY_SECRET]
    forbidden += [admin_api.token, key]
    for value in forbidden:
        assert value not in log, f"{value!r} is in the log"

    access = [e for e in entries if e["logger"] == "smsgw.access"]
    assert {"time", "level", "message", "request_id", "route", "status", "latency_ms"} <= set(
        access[0]
    )
    login = next(e for e in access if e["request_id"] == "login-42")
    assert login["route"] == "/validate/check" and login["status"] == 200
    sends = [e for e in entries if e["logger"] == "smsgw.send"]
    assert {"message_id": sent["id"], "gateway": "sms-gw", "outcome": "sent"}.items() <= sends[
        -2
    ].items()
    assert sends[-1]["outcome"] == "failed" and sends[-1]["level"] == "WARNING"
    assert all(e["message_id"] for e in sends)  # the outbox row exists before the send
    assert sum(e["source"] == "challenge" for e in sends) == 1


def test_scrub_masks_numbers_and_the_values_of_secret_keys():
    line = scrub('sent to +49 170 1234567, password=hunter2 "pin": "1234" port 8000')
    assert "1234567" not in line and "hunter2" not in line and '"1234"' not in line
    assert "port 8000" in line and "+49 …67" in line


def test_scrub_hides_values_registered_for_the_task():
    def in_a_task() -> str:
        context.hide("Secret text with 987654")
        return scrub("provider said: Secret text with 987654")

    assert contextvars.copy_context().run(in_a_task) == "provider said: [hidden]"
    assert "987654" in scrub("another task: 987654")


def test_a_sends_number_text_and_the_code_in_it_are_hidden_from_its_log_lines():
    def in_a_task() -> str:
        sends.hide("+447700900999", "Your code is 246813")
        return scrub("gateway refused 447700900999: code 246813 unknown")

    line = contextvars.copy_context().run(in_a_task)
    assert "246813" not in line and "447700900999" not in line


def test_the_text_format_scrubs_the_message_but_keeps_the_timestamp():
    config = log_config("INFO", "text")
    formatter = logging.config.DictConfigurator(config).configure_formatter(  # type: ignore[attr-defined]
        dict(config["formatters"]["default"])
    )
    record = logging.LogRecord(
        "smsgw.x", logging.INFO, __file__, 1, "to %s", ("+447700900123",), None
    )
    line = formatter.format(record)
    assert "+447700900123" not in line and "+447…23" in line
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO smsgw.x: ", line), line
