"""Error pages with DEBUG off: the product's 404 text only, never Django's URL patterns or file paths.

Django's URL resolver raises Http404({"tried": [...], "path": ...}); its repr names every pattern
and the absolute path of every urls.py. None of that may reach a stranger, whatever the entry
point: pages, API, admin, static files.
"""

import json

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from core_app.api.exceptions import exception_handler
from tests.pages.conftest import signed_in

# What Django's debug and resolver messages contain; the product's 404 has none of it.
LEAKS = ("tried", "URLResolver", "URLPattern", "urls.py", "/work/", "site-packages", "Traceback", "(admin:admin)")


def assert_no_leak(response):
    body = response.content.decode()
    for needle in LEAKS:
        assert needle not in body, (needle, body[:500])


@pytest.fixture(autouse=True)
def debug_off(settings):
    settings.DEBUG = False


UNKNOWN_PAGES = ["/no/such/page/", "/templates/no-such/", "/gateways/tokens/nope/", "/static/flowgate/nope.css"]


@pytest.mark.parametrize("path", UNKNOWN_PAGES)
@pytest.mark.django_db
def test_an_anonymous_unknown_page_shows_only_the_product_404(path):
    response = Client().get(path)
    assert response.status_code == 404
    assert b"Not found" in response.content
    assert_no_leak(response)


@pytest.mark.parametrize("path", UNKNOWN_PAGES)
def test_a_signed_in_unknown_page_shows_only_the_product_404(alice, path):
    response = signed_in(alice).get(path)
    assert response.status_code == 404
    assert_no_leak(response)


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/gateways/x/y/z/", "/api/v1/nope"])
@pytest.mark.django_db
def test_an_unknown_api_url_is_a_plain_json_404(path):
    response = Client().get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_a_missing_api_object_names_no_model(api_client, org):
    response = api_client.get("/api/v1/gateways/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    # DRF would pass on Django's "No Gateway matches the given query."
    assert response.json() == {"detail": "Not found."}


def test_an_api_not_found_with_our_own_message_keeps_it(api_client, org):
    from templates_app.services import create_template

    template = create_template(org, name="t", author=None)
    response = api_client.get(f"/api/v1/templates/{template.pk}/diff/?from=1&to=2")
    assert response.status_code == 404
    assert "does not exist" in response.json()["detail"]


def test_the_api_handler_hides_django_404_messages():
    from django.http import Http404

    response = exception_handler(Http404({"tried": ["secret"], "path": "x"}), {})
    assert response.data == {"detail": "Not found."}


@pytest.mark.django_db
def test_an_unknown_admin_url_for_staff_shows_no_internals(alice):
    client = Client()
    client.force_login(alice)
    response = client.get("/admin/flowgate_site/nothing-here/")
    assert response.status_code == 404
    assert_no_leak(response)


def test_a_public_404_message_is_shown(alice, org):
    # Messages raised as PublicNotFound are written for people and stay on the page.
    from django.test import RequestFactory

    from core_app.errors import PublicNotFound
    from core_app.views import page_not_found

    request = RequestFactory().get("/x/")
    request.user = alice
    request.session = {}
    response = page_not_found(request, PublicNotFound("This template has no version yet."))
    assert b"This template has no version yet." in response.content


@override_settings(DEBUG=False)
def test_the_diff_page_of_a_template_without_versions_explains_why(alice, org):
    from templates_app.services import create_template

    template = create_template(org, name="empty", author=alice)
    response = signed_in(alice).get(reverse("templates:diff", args=[template.pk]))
    assert response.status_code == 404
    assert b"This template has no version yet." in response.content


# The product's own page for every error a person can meet with DEBUG off (make run, production), not Django's
# built-in text: a form posted after its CSRF cookie went (403), a host the portal does not serve (400); the API
# keeps answering JSON, whatever the status.
DJANGO_DEFAULT_TEXT = ("CSRF verification failed", "More information is available with DEBUG=True", "Bad Request (400)")


def assert_product_page(response, status):
    body = response.content.decode()
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert "· FlowGate</title>" in body and "flowgate/pages" in body, body[:300]
    for text in DJANGO_DEFAULT_TEXT:
        assert text not in body, (text, body[:500])


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
@pytest.mark.django_db
def test_a_form_posted_without_its_csrf_cookie_gets_the_product_403(path):
    response = Client(enforce_csrf_checks=True).post(path, {"username": "a", "password": "b"})
    assert_product_page(response, 403)
    assert "Reload the page" in response.content.decode()


@pytest.mark.django_db
def test_an_unknown_host_gets_the_product_400():
    assert_product_page(Client().get("/login/", HTTP_HOST="not-this-portal.example"), 400)


@pytest.mark.parametrize(
    ("handler", "status"),
    [("bad_request", 400), ("permission_denied", 403), ("page_not_found", 404), ("server_error", 500)],
)
def test_the_api_keeps_json_errors_from_every_handler(handler, status):
    from django.core.exceptions import PermissionDenied
    from django.test import RequestFactory

    from core_app import views

    request = RequestFactory().get("/api/v1/gateways/")
    arguments = () if handler == "server_error" else (PermissionDenied("secret internals"),)
    response = getattr(views, handler)(request, *arguments)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert "secret internals" not in response.content.decode()
    assert set(json.loads(response.content)) == {"detail"}
