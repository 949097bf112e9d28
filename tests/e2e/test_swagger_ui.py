"""Swagger UI on /docs works without the internet: every asset comes from the service, it
renders our OpenAPI 3.1 document (Swagger UI 5), Authorize logs in through the OAuth2
password flow, and Try it out on GET /smsgateway answers 200 (design.md §7)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import LiveService

CHROMIUM = Path("/usr/bin/chromium")
# Debian's chromium, never a downloaded one; no sandbox (containers), no calls home.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (apt-get install chromium)",
    ),
]


def test_swagger_ui_authorizes_and_tries_list_gateways_with_assets_from_the_service(
    live_service: LiveService, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.set_default_timeout(TIMEOUT_MS)
            page.on("request", lambda request: requested.append(request.url))
            page.goto(f"{live_service.url}/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("smsgw")
            # Swagger UI 4.x cannot render OpenAPI 3.1; the pinned bundle is 5.x.
            version = page.evaluate("() => window.versions.swaggerUI.version")
            assert str(version).startswith("5."), version

            page.locator(".auth-wrapper button.authorize").click()
            dialog = page.locator(".dialog-ux .modal-ux")
            oauth2 = dialog.locator(".auth-container").filter(has_text="OAuth2PasswordBearer")
            oauth2.locator("#oauth_username").fill(live_service.username)
            oauth2.locator("#oauth_password").fill(live_service.password)
            oauth2.locator("button.modal-btn.authorize").click()
            expect(oauth2.locator("button", has_text="Logout")).to_be_visible()
            expect(oauth2).to_contain_text("Authorized")
            dialog.locator("button.close-modal").click()
            expect(dialog).to_have_count(0)

            operation = page.locator("#operations-smsgateway-list_gateways")
            operation.locator(".opblock-summary").click()
            operation.get_by_role("button", name="Try it out").click()
            operation.get_by_role("button", name="Execute").click()
            responses = operation.locator(".live-responses-table")
            expect(responses.locator("tr.response .response-col_status")).to_have_text("200")
            expect(responses).to_contain_text('"status": true')
            # The request carried the token Authorize obtained, as an OAuth2 bearer.
            expect(operation.locator(".curl-command")).to_contain_text("Authorization: Bearer ")
            operation.screenshot(path=str(tmp_path / "swagger-ui.png"))
        finally:
            browser.close()

    assert f"{live_service.url}/static/docs/swagger-ui-bundle.js" in requested
    assert f"{live_service.url}/auth/token" in requested
    outside = [url for url in requested if urlsplit(url).hostname != "127.0.0.1"]
    assert not outside, f"requests that left the service: {outside}"
