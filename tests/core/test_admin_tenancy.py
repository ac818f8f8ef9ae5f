"""Tenancy in Django admin, walked over every registered ModelAdmin (admin.site._registry).

alice owns acme. globex, owned by charlie, is the other organization; in each case alice is there a
viewer, an editor (for admins that need more than editor to write) or no member at all. For every
foreign key and many-to-many field of every add and change form (inlines included), globex's object
must not be offered, and a POST naming it must change nothing. Saving, deleting and running admin
actions on globex's own objects must change nothing either. For an object alice may not see, admin
URLs answer exactly as for an id that does not exist.

A model added to the admin is walked automatically; `test_every_admin_model_has_objects_to_walk`
fails until `populate` creates one of its rows.
"""

import re
import uuid

import pytest
from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from core_app import audit
from core_app.models import ApiToken, AuditLog, Membership, Organization, OrgSettings
from core_app.roles import RANK, Role
from core_app.services import create_api_token, set_membership
from deployments_app.models import Deployment, DeploymentTarget
from deployments_app.services import create_deployment
from gateways_app.models import Gateway, OpAMPToken, RegistrationToken, Tag
from gateways_app.services import create_registration_token
from telemetry_app import credentials
from telemetry_app.models import TelemetryCredential
from templates_app.models import ConfigTemplate, TemplateVersion

CONFIG = "receivers:\n  otlp:\n    protocols:\n      grpc: {}\n"
RELATIONS = {"stranger": None, "viewer": Role.VIEWER, "editor": Role.EDITOR}


def admin_label(model):
    return model._meta.label


REGISTRY = {admin_label(model): model_admin for model, model_admin in admin.site._registry.items()}


def write_role(model_admin):
    # Admins without a write_role (organizations, users, groups, API tokens) need at least admin.
    return getattr(model_admin, "write_role", Role.ADMIN)


# Admins of models whose rows belong to no organization (populate() gives them none in globex).
NO_ORGANIZATION = {"auth.Group"}

# (admin, relation) pairs where alice's role in globex does not allow writing the admin's model.
CASES = [
    (label, relation)
    for label, model_admin in sorted(REGISTRY.items())
    for relation, role in RELATIONS.items()
    if role is None or RANK[role] < RANK[write_role(model_admin)]
]
# The same pairs, for tests about a row of globex's.
ORG_CASES = [(label, relation) for label, relation in CASES if label not in NO_ORGANIZATION]


def populate(org, owner):
    """One row of every model the admin shows, in `org` (or belonging to its owner)."""
    now = timezone.now()
    template = ConfigTemplate.objects.create(organization=org, name=f"{org.slug}-t")
    version = TemplateVersion.objects.create(template=template, number=1, config_yaml=CONFIG)
    tag = Tag.objects.create(organization=org, key="env", value=org.slug)
    gateway = Gateway.objects.create(organization=org, name=f"{org.slug}-gw")
    gateway.tags.add(tag)
    opamp = OpAMPToken.objects.create(
        gateway=gateway, jti=f"{org.slug}-jti", issued_at=now, expires_at=now + timezone.timedelta(days=1)
    )
    token, _ = create_registration_token(org, name=f"{org.slug}-reg", created_by=owner, tags=[tag])
    deployment = create_deployment(org, template_version=version, selector_gateways=[gateway], user=owner)
    api_token, _ = create_api_token(owner)
    return {
        Organization: org,
        Membership: Membership.objects.get(organization=org, user=owner),
        OrgSettings: OrgSettings.objects.get(organization=org),
        AuditLog: audit.record(org, "template.created", template, user=owner),
        ApiToken: api_token,
        get_user_model(): owner,
        ConfigTemplate: template,
        TemplateVersion: version,
        Tag: tag,
        Gateway: gateway,
        OpAMPToken: opamp,
        RegistrationToken: token,
        Deployment: deployment,
        DeploymentTarget: deployment.targets.get(),
        TelemetryCredential: credentials.issue(gateway),
    }


@pytest.fixture
def ours(org, alice):
    rows = populate(org, alice)
    rows[Group] = Group.objects.create(name="operators")  # groups belong to no organization
    return rows


@pytest.fixture
def theirs(other_org, charlie):
    return populate(other_org, charlie)


@pytest.fixture
def client(alice):
    client = Client()
    client.force_login(alice)
    return client


def join(org, user, relation):
    if RELATIONS[relation] is not None:
        set_membership(org, user, RELATIONS[relation])


def snapshot():
    """Every row of every table but sessions: what a refused request must leave as it was."""
    return {
        admin_label(model): sorted(repr(row) for row in model._base_manager.values_list())
        for model in apps.get_models()
        if model is not Session
    }


def encode(bound, data):
    """Put `bound`'s value into `data` the way a browser posts it."""
    value = bound.value()
    widget = bound.field.widget
    if isinstance(widget, forms.MultiWidget):
        parts = widget.decompress(value)
        for index, part in enumerate(parts):
            data[f"{bound.html_name}_{index}"] = "" if part is None else str(part)
    elif isinstance(value, bool) or isinstance(widget, forms.CheckboxInput):
        if value:
            data[bound.html_name] = "on"
    elif isinstance(value, (list, tuple)):
        data[bound.html_name] = [str(item) for item in value]
    else:
        data[bound.html_name] = "" if value is None else str(value)


def form_data(form, data=None):
    data = {} if data is None else data
    for name in form.fields:
        encode(form[name], data)
    return data


def page_data(response):
    """The POST body of an admin add/change page as rendered: the form and every inline formset."""
    data = form_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        form_data(inline.formset.management_form, data)
        for form in inline.formset.forms:
            form_data(form, data)
    return data


def relation_fields(response):
    """(key in the POST, field, inline formset or None) for each choice of related rows on the page."""
    found = [
        (name, field, None)
        for name, field in response.context["adminform"].form.fields.items()
        if isinstance(field, forms.ModelChoiceField)
    ]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        if not inline.has_add_permission:
            continue
        for name, field in formset.empty_form.fields.items():
            if isinstance(field, forms.ModelChoiceField) and name != formset.fk.name and name != "id":
                found.append((name, field, formset))
    return found


def other_row(model, theirs):
    if model is get_user_model():
        return theirs[model]  # charlie: a member of globex only
    return theirs.get(model)


def point_at(base, key, field, formset, row):
    """The POST body `base` with `key` naming `row` (in a new inline row for an inline field)."""
    data = dict(base)
    value = [str(row.pk)] if isinstance(field, forms.ModelMultipleChoiceField) else str(row.pk)
    if formset is None:
        data[key] = value
        return data
    index = int(data[f"{formset.prefix}-TOTAL_FORMS"])
    new_row = form_data(formset.empty_form)
    data.update({name.replace("__prefix__", str(index)): item for name, item in new_row.items()})
    data[f"{formset.prefix}-{index}-{key}"] = value
    data[f"{formset.prefix}-TOTAL_FORMS"] = str(index + 1)
    return data


def assert_refused(response, key, formset):
    if response.status_code == 403:
        return
    assert response.status_code == 200, (response.status_code, response.get("Location"))
    if formset is None:
        errors = response.context["adminform"].form.errors
        assert key in errors, errors
    else:
        inlines = response.context["inline_admin_formsets"]
        posted = next(inline.formset for inline in inlines if inline.formset.prefix == formset.prefix)
        assert any(key in errors for errors in posted.errors), posted.errors


def walk_form(client, url, theirs, own=None):
    """GET the form at `url`: no other-org row offered; POST each one: refused, nothing changed.

    An add form is filled with the values of `own` (a row of alice's organization), so that the
    POST is valid but for the row of globex it names.
    """
    response = client.get(url)
    if response.status_code == 403:
        before = snapshot()
        assert client.post(url, {}).status_code == 403
        assert snapshot() == before
        return
    assert response.status_code == 200, response.status_code
    base = page_data(response)
    if own is not None:
        form_data(response.context["adminform"].form.__class__(instance=own), base)
    for key, field, formset in relation_fields(response):
        row = other_row(field.queryset.model, theirs)
        if row is None:
            continue
        offered = field.queryset.filter(pk=row.pk).exists()
        assert not offered, f"{url} offers {row!r} of globex in {key}"
        before = snapshot()
        answer = client.post(url, point_at(base, key, field, formset, row))
        assert_refused(answer, key, formset)
        assert snapshot() == before, f"{url}: posting {key}={row!r} changed something"


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_admin_model_has_objects_to_walk(ours, theirs):
    missing = [label for label in REGISTRY if apps.get_model(label) not in ours]
    assert not missing, f"add a row of these models to populate(): {missing}"
    # Only the admins listed in NO_ORGANIZATION are left out of the tests about globex's rows.
    assert {label for label in REGISTRY if apps.get_model(label) not in theirs} == NO_ORGANIZATION


@pytest.mark.parametrize("label, relation", CASES)
def test_add_form_neither_offers_nor_accepts_another_orgs_rows(client, alice, ours, theirs, label, relation):
    join(theirs[Organization], alice, relation)
    model = apps.get_model(label)
    walk_form(client, admin_url(model, "add"), theirs, own=ours[model])


@pytest.mark.parametrize("label, relation", CASES)
def test_change_form_neither_offers_nor_accepts_another_orgs_rows(client, alice, ours, theirs, label, relation):
    join(theirs[Organization], alice, relation)
    model = apps.get_model(label)
    walk_form(client, admin_url(model, "change", ours[model].pk), theirs)


def their_form_data(model, row, owner):
    """What the change form of `row` holds for its owner, who may edit it."""
    request = RequestFactory().get("/")
    request.user = owner
    form_class = REGISTRY[admin_label(model)].get_form(request, row, change=True)
    return form_data(form_class(instance=row))


@pytest.mark.parametrize("label, relation", ORG_CASES)
def test_another_orgs_row_is_neither_saved_nor_deleted(client, alice, charlie, theirs, label, relation):
    join(theirs[Organization], alice, relation)
    model = apps.get_model(label)
    row = theirs[model]
    before = snapshot()
    response = client.post(admin_url(model, "change", row.pk), their_form_data(model, row, charlie))
    assert response.status_code in (302, 403)
    if response.status_code == 302:  # a missing object: the admin goes back to its index
        assert response["Location"] == reverse("admin:index")
    response = client.post(admin_url(model, "delete", row.pk), {"post": "yes"})
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert response["Location"] == reverse("admin:index")
    assert snapshot() == before


@pytest.mark.parametrize("label, relation", ORG_CASES)
def test_admin_actions_leave_another_orgs_rows_alone(client, alice, theirs, label, relation):
    join(theirs[Organization], alice, relation)
    model = apps.get_model(label)
    request = RequestFactory().get("/")
    request.user = alice
    names = list(REGISTRY[label].get_actions(request))
    before = snapshot()
    for name in names:
        body = {"action": name, "_selected_action": [str(theirs[model].pk)], "index": "0", "post": "yes"}
        client.post(admin_url(model, "changelist"), body)
    assert snapshot() == before, names


# --- Admin URLs answer the same for another organization's object as for a missing one.

# CSRF tokens are masked afresh on every page: blank them before comparing.
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"|"X-CSRFToken": "[^"]+"')
NUMBER = re.compile(r"\d+")


def missing_id(model):
    if isinstance(model._meta.pk, type(Organization._meta.pk)):
        return uuid.uuid4()
    return (model._base_manager.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000


def answer(client, url, object_id):
    """Status codes along the redirects and the final page, with the id, CSRF tokens and numbers blanked."""
    response = client.get(url, follow=True)
    statuses = [status for _, status in response.redirect_chain] + [response.status_code]
    body = CSRF.sub("<csrf>", response.content.decode())
    if not isinstance(object_id, int):
        body = body.replace(str(object_id), "<id>")  # a UUID, unique on the page
    # The shape, not the numbers: an integer id is blanked with every other number on the page.
    return statuses, NUMBER.sub("#", body)


def object_urls(model, object_id):
    content_type = ContentType.objects.get_for_model(model)
    return {
        "view on site": reverse("admin:view_on_site", args=[content_type.pk, object_id]),
        "change": admin_url(model, "change", object_id),
        "history": admin_url(model, "history", object_id),
        "delete": admin_url(model, "delete", object_id),
    }


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize("label", sorted(set(REGISTRY) - NO_ORGANIZATION))
def test_admin_urls_answer_for_another_orgs_row_as_for_a_missing_one(settings, client, theirs, label, debug):
    # With DEBUG on (the embedded default) Django's 404 page shows the view's own message.
    settings.DEBUG = debug
    model = apps.get_model(label)
    row = theirs[model]
    absent = missing_id(model)
    for kind, url in object_urls(model, row.pk).items():
        missing_url = object_urls(model, absent)[kind]
        assert answer(client, url, row.pk) == answer(client, missing_url, absent), f"{kind} of {label}"


# --- Only owners grant "owner".

MEMBERSHIPS = "/admin/flowgate_site/membership/"


def login(user):
    client = Client()
    client.force_login(user)
    return client


class TestOwnerRole:
    """bob is an admin of acme: he manages its members, but only an owner may make (or unmake) an owner."""

    @pytest.fixture
    def bob_role(self):
        return Role.ADMIN

    @pytest.fixture
    def dave(self, bob):
        # dave is in initech, where bob is an admin too: bob may pick him.
        from core_app.services import create_organization
        from tests.conftest import make_user

        initech = create_organization("initech", "Initech")
        set_membership(initech, bob, Role.ADMIN)
        user = make_user("dave", is_staff=True)
        set_membership(initech, user, Role.VIEWER)
        return user

    def test_an_admin_cannot_raise_their_own_membership_to_owner(self, bob, org):
        membership = Membership.objects.get(organization=org, user=bob)
        body = {"organization": org.pk, "user": bob.pk, "role": Role.OWNER}
        response = login(bob).post(f"{MEMBERSHIPS}{membership.pk}/change/", body)
        assert response.status_code in (200, 403)
        membership.refresh_from_db()
        assert membership.role == Role.ADMIN

    def test_an_admin_cannot_create_an_owner_membership(self, bob, dave, org):
        body = {"organization": org.pk, "user": dave.pk, "role": Role.OWNER}
        response = login(bob).post(f"{MEMBERSHIPS}add/", body)
        assert response.status_code == 200
        assert "role" in response.context["adminform"].form.errors
        assert not Membership.objects.filter(organization=org, user=dave).exists()

    def test_an_admin_may_still_add_an_admin(self, bob, dave, org):
        body = {"organization": org.pk, "user": dave.pk, "role": Role.ADMIN}
        assert login(bob).post(f"{MEMBERSHIPS}add/", body).status_code == 302
        assert Membership.objects.get(organization=org, user=dave).role == Role.ADMIN

    def raise_through_inline(self, actor, member, org):
        """POST the organization page as `actor`, with `member`'s role set to owner in the members inline."""
        client = login(actor)
        url = f"/admin/flowgate_site/organization/{org.pk}/change/"
        data = page_data(client.get(url))
        key = next(key for key, value in data.items() if key.endswith("-user") and value == str(member.pk))
        data[key.replace("-user", "-role")] = Role.OWNER
        return client.post(url, data)

    def test_an_admin_cannot_raise_themselves_through_the_organization_inline(self, alice, bob, org):
        response = self.raise_through_inline(bob, bob, org)
        assert response.status_code == 200
        assert Membership.objects.get(organization=org, user=bob).role == Role.ADMIN

    def test_an_owner_raises_an_admin_through_the_organization_inline(self, alice, bob, org):
        assert self.raise_through_inline(alice, bob, org).status_code == 302
        assert Membership.objects.get(organization=org, user=bob).role == Role.OWNER

    def test_an_admin_saves_the_organization_page_listing_an_owner(self, alice, bob, org):
        client = login(bob)
        url = f"/admin/flowgate_site/organization/{org.pk}/change/"
        data = page_data(client.get(url))
        data["name"] = "Acme Corp"
        assert client.post(url, data).status_code == 302
        org.refresh_from_db()
        assert org.name == "Acme Corp"

    def test_an_admin_cannot_remove_an_owner_through_the_organization_inline(self, alice, bob, org):
        client = login(bob)
        url = f"/admin/flowgate_site/organization/{org.pk}/change/"
        data = page_data(client.get(url))
        key = next(key for key, value in data.items() if key.endswith("-user") and value == str(alice.pk))
        data[key.replace("-user", "-DELETE")] = "on"
        assert client.post(url, data).status_code == 200
        assert Membership.objects.filter(organization=org, user=alice, role=Role.OWNER).exists()

    def test_an_admin_can_neither_demote_nor_remove_an_owner(self, alice, bob, org):
        membership = Membership.objects.get(organization=org, user=alice)
        client = login(bob)
        body = {"organization": org.pk, "user": alice.pk, "role": Role.VIEWER}
        assert client.post(f"{MEMBERSHIPS}{membership.pk}/change/", body).status_code == 403
        assert client.post(f"{MEMBERSHIPS}{membership.pk}/delete/", {"post": "yes"}).status_code == 403
        membership.refresh_from_db()
        assert membership.role == Role.OWNER

    def test_an_owner_grants_owner(self, alice, bob, org):
        membership = Membership.objects.get(organization=org, user=bob)
        body = {"organization": org.pk, "user": bob.pk, "role": Role.OWNER}
        assert login(alice).post(f"{MEMBERSHIPS}{membership.pk}/change/", body).status_code == 302
        membership.refresh_from_db()
        assert membership.role == Role.OWNER


# --- The last check of every admin save, whatever the form offered.


@pytest.fixture
def unnarrowed_choices(monkeypatch):
    """Admin forms offering every row, as the admin did before: only the save-time check stands."""
    from core_app.admin_mixins import OrgScopedAdminMixin

    def every_row(self, db_field, request, queryset=None):
        return queryset if queryset is not None else db_field.related_model._default_manager.all()

    monkeypatch.setattr(OrgScopedAdminMixin, "writable_choices", every_row)


def test_a_save_into_an_org_where_the_role_is_viewer_is_refused(client, alice, theirs, unnarrowed_choices):
    join(theirs[Organization], alice, "viewer")
    template = theirs[ConfigTemplate]
    body = {"template": str(template.pk), "config_yaml": CONFIG + "# v2\n", "change_summary": ""}
    response = client.post(admin_url(TemplateVersion, "add"), body)
    assert response.status_code == 403
    assert template.versions.count() == 1


def test_a_save_naming_another_orgs_row_is_refused(alice, ours, theirs):
    from django.core.exceptions import PermissionDenied

    from core_app.admin_mixins import check_write

    join(theirs[Organization], alice, "editor")  # may write in both organizations, but not mix them
    with pytest.raises(PermissionDenied, match="belongs to another organization"):
        check_write(alice, ours[Gateway], {"name": "gw", "tags": [theirs[Tag]]}, Role.EDITOR)
