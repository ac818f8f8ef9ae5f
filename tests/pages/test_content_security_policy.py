"""Every response carries a Content-Security-Policy without inline script, and no page relies on inline script.

The policy is the backstop behind escaping (tests/pages/test_browser_escaping.py shows, in a browser, that
crafted text runs nothing and that Swagger UI and the admin still work under it). Here: the header on each
kind of response, and that the HTML of every kind of page has no inline <script> and no on…= handler,
which the policy would refuse (the page would silently lose that behaviour).
"""

from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.urls import reverse

from core_app.views import server_error
from tests.conftest import make_user
from tests.pages.conftest import signed_in

pytestmark = pytest.mark.django_db


def policy(response):
    header = response.headers.get("Content-Security-Policy", "")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_strict(response):
    directives = policy(response)
    script_src = directives.get("script-src", directives.get("default-src"))
    assert script_src == ["'self'"], script_src
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    # Style attributes may stay inline; <style> elements and stylesheets come from the site only.
    assert directives["style-src-elem"] == ["'self'"]


class InlineScriptFinder(HTMLParser):
    """Collects inline <script> blocks (data blocks such as type=application/json aside), on…= attributes and
    <style> elements (refused by style-src-elem 'self')."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and "src" not in attrs and attrs.get("type", "text/javascript") != "application/json":
            self.found.append(f"inline <script> at line {self.getpos()[0]}")
        if tag == "style":
            self.found.append(f"<style> at line {self.getpos()[0]}")
        self.found += [f"{tag} {name}= at line {self.getpos()[0]}" for name in attrs if name.startswith("on")]


def inline_script(response):
    finder = InlineScriptFinder()
    finder.feed(response.content.decode())
    return finder.found


@pytest.fixture
def superuser_browser(org):
    return signed_in(make_user("root", is_staff=True, is_superuser=True))


def test_the_login_page_has_the_policy(client):
    response = client.get(reverse("core:login"))
    assert_strict(response)
    assert inline_script(response) == []


def test_a_404_has_the_policy(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert_strict(response)
    assert inline_script(response) == []


def test_the_500_page_has_no_inline_script_or_style(rf):
    # Rendered by the handler itself (the header is added by the middleware around it, as for every answer).
    assert inline_script(server_error(rf.get("/"))) == []


def test_an_api_answer_and_the_api_docs_have_the_policy(alice_browser):
    assert_strict(alice_browser.get("/api/v1/templates/"))
    browsable = alice_browser.get("/api/v1/templates/", HTTP_ACCEPT="text/html")
    assert browsable["Content-Type"].startswith("text/html")
    assert_strict(browsable)
    assert inline_script(browsable) == []
    docs = alice_browser.get(reverse("api-docs"))
    assert docs.status_code == 200
    assert_strict(docs)
    assert inline_script(docs) == []  # Swagger UI's start-up script is served as a file of its own
    script = alice_browser.get(reverse("api-docs") + "?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_operator_pages_have_the_policy_and_no_inline_script(alice_browser, acme_fleet):
    pages = [
        reverse("dashboard:index"),
        reverse("gateways:list"),
        reverse("gateways:detail", args=[acme_fleet["gateway"].pk]),
        reverse("gateways:tokens"),
        reverse("gateways:token-create"),
        reverse("templates:list"),
        reverse("templates:create"),
        reverse("templates:detail", args=[acme_fleet["template"].pk]),
        reverse("templates:edit", args=[acme_fleet["template"].pk]),
        reverse("templates:version", args=[acme_fleet["template"].pk, 2]),
        reverse("templates:diff", args=[acme_fleet["template"].pk]),
        reverse("deployments:list"),
        reverse("deployments:create"),
        reverse("deployments:detail", args=[acme_fleet["deployment"].pk]),
        reverse("core:audit-log"),
        reverse("core:settings"),
    ]
    for url in pages:
        response = alice_browser.get(url)
        assert response.status_code == 200, url
        assert_strict(response)
        assert inline_script(response) == [], url


def test_admin_pages_have_the_policy_and_no_inline_script(superuser_browser, acme_fleet):
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        opts = model._meta
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
        first = model.objects.first()
        if first is not None:
            urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk]))
    for url in urls:
        response = superuser_browser.get(url)
        assert response.status_code in (200, 403), url  # read-only models refuse the add form
        assert_strict(response)
        assert inline_script(response) == [], url
