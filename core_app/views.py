"""Core pages: sign-in, the org switcher, organization settings, the audit log and error pages."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, HttpResponseRedirect, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView, UpdateView

from core_app import audit, errors
from core_app.filters import AuditLogFilterSet
from core_app.forms import OrgSettingsForm
from core_app.models import AuditLog, Membership, OrgSettings
from core_app.pages import OrgPageMixin, shown_role, switch_org
from core_app.roles import Role
from core_app.services import get_org_settings

AUDIT_PAGE_SIZE = 50


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


class SwitchOrgView(View):
    """POST org=<slug>: work in that organization from now on (only among one's own)."""

    http_method_names = ["post"]

    def post(self, request):
        if not request.user.is_authenticated:
            raise PermissionDenied
        if not switch_org(request, request.POST.get("org", "")):
            messages.error(request, "You are not a member of that organization.")
        target = request.POST.get("next") or reverse("dashboard:index")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("dashboard:index")
        # Detail pages of the previous organization's objects would answer 404: go to the section's list.
        return HttpResponseRedirect(_section_root(target))


def _section_root(path):
    parts = [part for part in path.split("?")[0].split("/") if part]
    return f"/{parts[0]}/" if parts else "/"


class SettingsView(OrgPageMixin, UpdateView):
    """The current organization's settings: everyone reads them, admins and owners change them."""

    form_class = OrgSettingsForm
    template_name = "flowgate_site/settings.html"
    write_role = Role.ADMIN

    def get_object(self, queryset=None):
        get_org_settings(self.org)  # created with defaults on first use
        return self.get_scoped_object(self.scoped(OrgSettings))

    def form_valid(self, form):
        before = OrgSettings.objects.get(pk=self.object.pk)
        response = super().form_valid(form)
        changed = {}
        for name in form.Meta.fields:
            old, new = getattr(before, name), getattr(self.object, name)
            if old != new:
                changed[name] = {"from": _plain(old), "to": _plain(new)}
        audit.record(self.org, "settings.updated", self.object, request=self.request, changes=changed)
        messages.success(self.request, "Settings saved.")
        return response

    def get_success_url(self):
        return reverse("core:settings")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        members = list(self.scoped(Membership).select_related("user").order_by("user__username"))
        for member in members:
            member.shown_role = Role(shown_role(member.user, member.role))
        context["members"] = members
        return context


def _plain(value):
    return value if isinstance(value, (bool, int, float, str, list, dict)) or value is None else str(value)


class AuditLogView(OrgPageMixin, TemplateView):
    """The current organization's audit trail, filterable by actor, action, object and time."""

    template_name = "flowgate_site/audit_log.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        entries = self.scoped(AuditLog).select_related("actor_user")
        filterset = AuditLogFilterSet(self.request.GET or None, queryset=entries)
        rows = filterset.qs if filterset.is_bound and filterset.is_valid() else entries
        page = Paginator(rows.order_by("-created_at", "-id"), AUDIT_PAGE_SIZE).get_page(self.request.GET.get("page"))
        page.object_list = list(page.object_list)
        for entry in page.object_list:
            entry.change_rows = audit.readable_changes(entry.changes)
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(filterset=filterset, page=page, query=query.urlencode())
        return context


def page_not_found(request, exception=None):
    """The product's 404: a message only when raised as PublicNotFound (see core_app.errors)."""
    reason = errors.public_message(exception)
    if request.path.startswith(errors.API_PREFIX):
        return JsonResponse({"detail": reason or errors.PLAIN_NOT_FOUND}, status=404)
    return render(request, "404.html", {"reason": reason}, status=404)


def bad_request(request, exception=None):
    """The product's 400 (a host the portal does not serve, a suspicious request), never Django's plain text."""
    if request.path.startswith(errors.API_PREFIX):
        return JsonResponse({"detail": "Bad request."}, status=400)
    # Rendered without the request: the middleware that failed (a disallowed host) ran before the one adding the
    # user the context processors read.
    return HttpResponseBadRequest(loader.get_template("400.html").render({}))


def permission_denied(request, exception=None):
    if request.path.startswith(errors.API_PREFIX):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return render(request, "403.html", {"reason": _reason(exception)}, status=403)


def server_error(request):
    if request.path.startswith(errors.API_PREFIX):
        return JsonResponse({"detail": "Server error."}, status=500)
    # Rendered without the request: no context processor may query a database that may be the failure.
    return HttpResponseServerError(loader.get_template("500.html").render({}))


def _reason(exception):
    args = getattr(exception, "args", ())
    message = args[0] if args and isinstance(args[0], str) else ""
    # Django's own Http404 messages name models and lookups; show only the ones we wrote for people.
    return message if message and not message.startswith(("No ", "Page not found")) else ""
