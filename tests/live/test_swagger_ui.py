"""Swagger UI works with no outside network: Authorize as the admin, then Try it out."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
]
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_authorize_then_try_it_out_on_list_gateways_shows_200(live_service, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    hosts: set[str] = set()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or ""))
        page.goto(live_service.url + "/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("smsgw")

        page.get_by_role("button", name="Authorize").first.click()
        oauth2 = page.locator(".modal-ux .auth-container").first
        oauth2.locator("input#oauth_username").fill(live_service.username)
        oauth2.locator("input#oauth_password").fill(live_service.password)
        oauth2.locator("button.modal-btn.authorize").click()
        expect(oauth2.get_by_text("Authorized", exact=True)).to_be_visible()
        expect(oauth2.locator("button", has_text="Logout")).to_be_visible()
        page.locator(".modal-ux button.close-modal").click()

        operation = page.locator("#operations-smsgateway-list_gateways")
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        operation.get_by_role("button", name="Execute").click()
        status = operation.locator(".live-responses-table tbody .response-col_status").first
        expect(status).to_have_text("200")
        expect(operation.locator(".live-responses-table")).to_contain_text("result")
        page.screenshot(path=str(tmp_path / "swagger-ui.png"), full_page=True)
        browser.close()
    # Every asset came from the service itself: no CDN on an auth server's network.
    assert hosts == {"127.0.0.1"}
