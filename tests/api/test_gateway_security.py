"""Gateway secrets stay secret and stay home; privacyIDEA's module paths read back as sent."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db.tables import Gateway, GatewayOption

HTTP = "providers.http.HttpProvider"
PI_HTTP = "privacyidea.lib.smsprovider.HttpSMSProvider.HttpSMSProvider"
SIPGATE = "providers.sipgate.SipgateProvider"
SMTP = "providers.smtp.SmtpProvider"
URL = "http://127.0.0.1:9/send"
CENSORED = "__CENSORED__"


async def stored(runtime) -> dict[str, GatewayOption]:
    rows = await runtime.db.read(lambda tx: tx.execute(select(GatewayOption)).scalars().all())
    return {f"{r.kind}.{r.key}": r for r in rows}


async def stored_module(runtime, name: str = "gw1") -> str:
    query = select(Gateway).where(Gateway.name == name)
    gateway = await runtime.db.read(lambda tx: tx.execute(query).scalar_one())
    return gateway.module


# --- a kept value keeps its secret flag -----------------------------------------------------


async def test_a_kept_secret_stays_encrypted_when_reposted_without_its_flag(admin_api, runtime):
    first = {"name": "gw1", "module": HTTP, "option.URL": URL, "option.apikey": "k-123"}
    await admin_api.post("/smsgateway", {**first, "secret.option.apikey": "1"}, form=True)
    # privacyIDEA's web UI posts every value back, censored ones included, without flags.
    await admin_api.post("/smsgateway", {**first, "option.apikey": CENSORED}, form=True)
    [listed] = await admin_api.value("/smsgateway/")
    assert listed["options"]["apikey"] == CENSORED
    assert listed["secret_options"] == ["apikey"]
    row = (await stored(runtime))["option.apikey"]
    assert row.secret and "k-123" not in row.value
    assert runtime.box.open(row.value) == "k-123"


async def test_a_kept_secret_header_stays_encrypted_when_reposted_without_its_flag(admin_api):
    first = {"name": "gw1", "module": HTTP, "option.URL": URL, "header.X-Sig": "s-1"}
    await admin_api.post("/smsgateway", {**first, "secret.header.X-Sig": "1"}, form=True)
    await admin_api.post("/smsgateway", {**first, "header.X-Sig": CENSORED}, form=True)
    [listed] = await admin_api.value("/smsgateway/")
    assert listed["headers"]["X-Sig"] == CENSORED
    assert listed["secret_headers"] == ["X-Sig"]


# --- a kept secret does not follow the gateway elsewhere ------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "changed"),
    [
        (
            {"module": HTTP, "option.URL": URL},
            {"module": HTTP, "option.URL": "http://attacker.example/collect"},
            "option.URL",
        ),
        (
            {"module": HTTP, "option.URL": URL},
            {"module": HTTP, "option.URL": URL, "option.PROXY": "http://attacker.example:3128"},
            "option.PROXY",
        ),
        (
            {"module": SIPGATE, "option.URL": URL, "option.USERNAME": "u"},
            {"module": HTTP, "option.URL": URL, "option.USERNAME": "u"},
            "module",
        ),
    ],
    ids=["url", "proxy", "module"],
)
async def test_censored_is_refused_when_the_destination_changes_and_nothing_is_stored(
    admin_api, runtime, before, after, changed
):
    await admin_api.post("/smsgateway", {"name": "gw1", **before, "option.PASSWORD": "prod-pw"})
    body = {"name": "gw1", **after, "option.PASSWORD": CENSORED}
    error = await admin_api.post_error("/smsgateway", body, status=409, code=905)
    assert "option.PASSWORD" in error["message"] and changed in error["message"]
    [listed] = await admin_api.value("/smsgateway/")
    assert listed["providermodule"] == before["module"]
    assert listed["options"]["URL"] == URL and "PROXY" not in listed["options"]


@pytest.mark.parametrize(
    ("key", "value"),
    [("option.SMTP_SERVER", "mx.attacker.example"), ("option.SMTP_PORT", "2525")],
    ids=["host", "port"],
)
async def test_censored_is_refused_when_the_host_or_port_changes(admin_api, key, value):
    smtp = {
        "name": "mail",
        "module": SMTP,
        "option.SMTP_SERVER": "mail.example.com",
        "option.SMTP_PORT": "587",
        "option.SENDER": "otp@example.com",
        "option.MAILTO": "{phone}@sms.example.com",
        "option.SMTP_USER": "otp",
    }
    await admin_api.post("/smsgateway", {**smtp, "option.SMTP_PASSWORD": "prod-pw"})
    body = {**smtp, key: value, "option.SMTP_PASSWORD": CENSORED}
    error = await admin_api.post_error("/smsgateway", body, status=409, code=905)
    assert "option.SMTP_PASSWORD" in error["message"] and key in error["message"]
    [listed] = await admin_api.value("/smsgateway/")
    assert listed["options"]["SMTP_SERVER"] == "mail.example.com"


async def test_censored_is_kept_when_only_other_options_change(admin_api, runtime):
    await admin_api.post(
        "/smsgateway", {"name": "gw1", "module": HTTP, "option.URL": URL, "option.PASSWORD": "pw"}
    )
    await admin_api.post(
        "/smsgateway",
        {"name": "gw1", "module": PI_HTTP, "option.URL": URL, "option.PASSWORD": CENSORED,
         "option.TIMEOUT": "9"},
    )  # fmt: skip
    row = (await stored(runtime))["option.PASSWORD"]
    assert runtime.box.open(row.value) == "pw"


async def test_a_new_secret_with_a_new_destination_is_accepted(admin_api, runtime):
    await admin_api.post(
        "/smsgateway", {"name": "gw1", "module": HTTP, "option.URL": URL, "option.PASSWORD": "a"}
    )
    moved = "http://127.0.0.1:9/elsewhere"
    await admin_api.post(
        "/smsgateway", {"name": "gw1", "module": HTTP, "option.URL": moved, "option.PASSWORD": "b"}
    )
    [listed] = await admin_api.value("/smsgateway/")
    assert listed["options"]["URL"] == moved


# --- credentials hidden in URLs and headers -------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "key", "value"),
    [
        ("option", "URL", "http://user:pw-in-url@127.0.0.1:9/send"),
        ("option", "PROXY", "http://proxyuser:proxy-pw@127.0.0.1:3128"),
        ("option", "HTTPS_PROXY", "http://proxyuser:proxy-pw@127.0.0.1:3128"),
        ("option", "HTTP_PROXY", "proxyuser:proxy-pw@127.0.0.1:3128"),
        ("header", "Authorization", "Bearer tok-123"),
        ("header", "Proxy-Authorization", "Basic dTpw"),
        ("header", "X-Api-Key", "key-123"),
        ("header", "X-Auth-Token", "tok-123"),
    ],
)
async def test_credentials_in_urls_proxies_and_auth_headers_are_secrets(
    admin_api, runtime, kind, key, value
):
    body = {"name": "gw1", "module": HTTP, "option.URL": URL, f"{kind}.{key}": value}
    await admin_api.post("/smsgateway", body)
    [listed] = await admin_api.value("/smsgateway/")
    assert listed[f"{kind}s"][key] == CENSORED
    assert key in listed[f"secret_{kind}s"]
    row = (await stored(runtime))[f"{kind}.{key}"]
    assert row.secret and value not in row.value


async def test_urls_without_userinfo_and_plain_headers_stay_readable(admin_api):
    body = {"name": "gw1", "module": HTTP, "option.URL": URL, "header.X-Client": "smsgw",
            "option.PROXY": "http://127.0.0.1:3128"}  # fmt: skip
    await admin_api.post("/smsgateway", body)
    [listed] = await admin_api.value("/smsgateway/")
    assert listed["options"]["URL"] == URL
    assert listed["options"]["PROXY"] == "http://127.0.0.1:3128"
    assert listed["headers"]["X-Client"] == "smsgw"


async def test_a_url_with_credentials_still_reaches_the_gateway(admin_api, http_sink):
    url = http_sink.url.replace("http://", "http://svc:pw@") + "/send"
    body = {"name": "gw1", "module": HTTP, "option.URL": url, "option.HTTP_METHOD": "POST",
            "option.text": "{otp}"}  # fmt: skip
    await admin_api.post("/smsgateway", body)
    await admin_api.post("/sms/send", {"gateway": "gw1", "phone": "+491701234567", "message": "x"})
    assert http_sink.last.body == b"text=x"


# --- privacyIDEA's module paths ----------------------------------------------------------


@pytest.mark.parametrize("module", [PI_HTTP, HTTP])
async def test_a_gateway_reads_back_with_the_module_name_it_was_written_with(
    admin_api, runtime, http_sink, module
):
    body = {"name": "gw1", "module": module, "option.URL": http_sink.url + "/send",
            "option.HTTP_METHOD": "POST", "option.text": "{otp}"}  # fmt: skip
    gwid = await admin_api.post("/smsgateway", body, form=True)
    [listed] = await admin_api.value(f"/smsgateway/{gwid}")
    assert listed["providermodule"] == module
    assert await stored_module(runtime) == module
    # Sending looks the provider up by its canonical name: nothing is imported.
    await admin_api.post("/sms/send", {"gateway": "gw1", "phone": "+491701234567", "message": "y"})
    assert http_sink.last.body == b"text=y"


async def test_providers_lists_privacyidea_class_paths_beside_our_names(admin_api):
    providers = await admin_api.value("/smsgateway/providers")
    for ours, theirs in [
        (HTTP, PI_HTTP),
        (SIPGATE, "privacyidea.lib.smsprovider.SipgateSMSProvider.SipgateSMSProvider"),
        (SMTP, "privacyidea.lib.smsprovider.SmtpSMSProvider.SmtpSMSProvider"),
        ("providers.smpp.SmppProvider",
         "privacyidea.lib.smsprovider.SmppSMSProvider.SmppSMSProvider"),
        ("providers.script.ScriptProvider",
         "privacyidea.lib.smsprovider.ScriptSMSProvider.ScriptSMSProvider"),
    ]:  # fmt: skip
        assert providers[theirs] == providers[ours]
        assert providers[theirs]["parameters"]
    assert providers[PI_HTTP]["parameters"]["URL"]["required"] is True
