"""Gateway pages (agent management) and registration token pages.

Thin views over GatewayFilterSet, GatewayForm, RegistrationTokenForm and gateways_app.services
(token issue/revoke, restart). What the agent reported (description, capabilities, health,
effective config, components) is shown as stored on the Gateway row.
"""

import shlex

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views import View
from django.views.generic import FormView, TemplateView

from core_app import audit
from core_app.pages import OrgPageMixin
from core_app.roles import Role
from gateways_app import config_compare, gateway_commands, panels, rotation, services
from gateways_app.filters import GatewayFilterSet
from gateways_app.forms import GatewayForm, RegistrationTokenForm
from gateways_app.models import (
    HEAVY_REPORTED_FIELDS,
    Gateway,
    GatewayMode,
    GatewayStatus,
    OpAMPToken,
    RegistrationToken,
    RemoteConfigStatus,
    Tag,
)
from opamp_core.messages import can_restart, capability_table

PAGE_SIZE = 50


class GatewayPageFilterSet(GatewayFilterSet):
    """The API's gateway filters, plus the page's `drift` checkbox (Gateway.has_config_drift())."""

    def __init__(self, *args, drift=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.drift = drift

    @property
    def qs(self):
        rows = super().qs
        if self.drift:
            rows = rows.drifted()
        return rows


class GatewayListView(OrgPageMixin, TemplateView):
    template_name = "gateways_app/list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = self.scoped(Gateway).without_reports().defer(*HEAVY_REPORTED_FIELDS).prefetch_related("tags")
        drift = self.request.GET.get("drift") == "1"
        filterset = GatewayPageFilterSet(self.request.GET or None, queryset=rows, drift=drift)
        if filterset.is_bound and filterset.is_valid():
            rows = filterset.qs
        page = Paginator(rows.order_by("name", "pk"), PAGE_SIZE).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(
            filterset=filterset,
            page=page,
            query=query.urlencode(),
            drift=drift,
            statuses=GatewayStatus.choices,
            modes=GatewayMode.choices,
            config_statuses=RemoteConfigStatus.choices,
            tag_values=self.request.GET.getlist("tag"),
        )
        return context


def supervisor_status(gateway):
    """Mode, supervisor version, collector state, restarts and last error, as the agent reported them.

    The supervisor (gateway/) reports a `collector` health component with `collector.restarts`;
    extension-mode gateways report a `heartbeat` component instead (gateways_app.services.record_heartbeat).
    """
    health = gateway.health or {}
    components = health.get("component_health_map") or {}
    collector = components.get("collector") or {}
    heartbeat = components.get("heartbeat") or {}
    attributes = {**(health.get("attributes") or {}), **(collector.get("attributes") or {})}
    description = (gateway.agent_description or {}).get("non_identifying_attributes") or {}
    return {
        "mode": gateway.get_mode_display(),
        "version": description.get("flowgate.supervisor.version", ""),
        "collector_status": collector.get("status") or heartbeat.get("status") or health.get("status", ""),
        "restarts": attributes.get("collector.restarts"),
        "pid": attributes.get("collector.pid"),
        "last_error": collector.get("last_error") or health.get("last_error", ""),
        "uptime_seconds": (heartbeat.get("attributes") or {}).get("uptime_seconds"),
        "reported": bool(health),
    }


def error_context(gateway):
    """The dated errors of the gateway (Gateway.health_errors) as the detail page shows them.

    errors: the history, newest first; config_error: the open error of the current FAILED remote
    config (dated), if any; health_error: the latest health error, open or resolved. A raw
    last_error or remote_config_error is never shown alone: it carries no date and may be stale.
    """
    history = gateway.error_history()
    config_error = next((e for e in history if e["source"] == "remote_config" and not e["resolved_at"]), None)
    health_error = next((e for e in history if e["source"] == "health"), None)
    return {"errors": history, "config_error": config_error, "health_error": health_error}


class GatewayPageMixin(OrgPageMixin):
    write_role = Role.ADMIN  # as the gateway API: admins change gateways and their tokens

    def get_gateway(self):
        gateways = self.scoped(Gateway).prefetch_related("tags")
        return self.get_scoped_object(gateways, pk=self.kwargs["pk"])


class GatewayDetailView(GatewayPageMixin, TemplateView):
    template_name = "gateways_app/detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        gateway = kwargs.get("gateway") or self.get_gateway()
        form = kwargs.get("form") or GatewayForm(instance=gateway)
        form.fields["tags"].queryset = self.scoped(Tag).order_by("key", "value")
        tokens = OpAMPToken.objects.filter(gateway=gateway).order_by("-issued_at")[:10]
        description = gateway.agent_description or {}
        context.update(
            gateway=gateway,
            form=form,
            tokens=tokens,
            now=timezone.now(),
            capabilities=capability_table(gateway.capabilities),
            identifying=sorted((description.get("identifying_attributes") or {}).items()),
            non_identifying=sorted((description.get("non_identifying_attributes") or {}).items()),
            supervisor=supervisor_status(gateway),
            drift=gateway.has_config_drift(),
            config=config_compare.compare(gateway.desired_config, gateway.effective_config),
            **error_context(gateway),
            degraded_reasons=gateway.degraded_reasons(),
            components=(gateway.available_components or {}).get("components") or {},
            can_restart=can_restart(gateway.capabilities) and gateway.status != GatewayStatus.OFFLINE,
            can_rotate=rotation.can_rotate(gateway),
            grace_until=rotation.grace_end(gateway) if gateway.offered_opamp_token_id else None,
            recent_targets=gateway.deployment_targets.select_related("deployment__template_version__template").order_by(
                "-deployment__created_at"
            )[:5],
            panels=panels.render_all(self.request, gateway),  # sections of the apps above (gateways_app/panels.py)
        )
        return context


class GatewayEditView(GatewayPageMixin, View):
    """POST the gateway's name and tags (GatewayForm), plus new tags written key=value."""

    http_method_names = ["post"]

    def post(self, request, pk):
        gateway = self.get_gateway()
        form = GatewayForm(request.POST, instance=gateway)
        form.fields["tags"].queryset = self.scoped(Tag)
        new_tags = request.POST.get("new_tags", "").split()
        try:
            pairs = [services.parse_tag(text) for text in new_tags]
        except ValidationError as exc:
            form.add_error(None, f"New tags: {' '.join(exc.messages)}")
            pairs = []
        if not form.is_valid():
            return self.invalid(gateway, form)
        with transaction.atomic():
            gateway = form.save()
            added = services.get_or_create_tags(self.org, pairs)
            gateway.tags.add(*added)
            changes = {"fields": sorted(form.changed_data), "tags": sorted(str(tag) for tag in gateway.tags.all())}
            audit.record(self.org, "gateway.updated", gateway, request=request, changes=changes)
        messages.success(request, "Gateway saved.")
        return redirect("gateways:detail", pk=gateway.pk)

    def invalid(self, gateway, form):
        view = GatewayDetailView()
        view.setup(self.request, pk=gateway.pk)
        view.org, view.role = self.org, self.role
        gateway.refresh_from_db(fields=["name"])
        context = view.get_context_data(gateway=gateway, form=form)
        return render(self.request, view.template_name, context, status=400)


class GatewayTokenView(GatewayPageMixin, View):
    """POST reissue-token (the new token is shown once, on this answer) or revoke-token."""

    http_method_names = ["post"]
    operation = None

    def post(self, request, pk):
        gateway = self.get_gateway()
        if self.operation == "revoke":
            count = services.revoke_opamp_tokens(gateway, request.user)
            messages.success(request, f"{count} OpAMP token(s) revoked: {gateway.name} is cut off until re-enrolled.")
            return redirect("gateways:detail", pk=gateway.pk)
        row, raw, rotated = rotation.reissue(gateway, request.user)
        context = {"gateway": gateway, "token": row, "raw": raw, "rotated": rotated}
        if rotated:
            context["grace_until"] = rotation.grace_end(gateway)
        else:
            context.update(re_enroll_context(request, gateway))
        response = render(request, "gateways_app/token_issued.html", context)
        add_never_cache_headers(response)  # the token is shown once: no cache may keep it
        return response


def re_enroll_command(portal_url, raw_token, gateway):
    """The token page's run command with --re-enroll and the gateway's name (and mode): it takes this gateway over."""
    command = gateway_commands.run_command(portal_url, raw_token, re_enroll=True)
    command += f" --name {shlex.quote(gateway.name)}"
    if gateway.mode == GatewayMode.EXTENSION:
        command += " --mode extension"
    return command


def re_enroll_context(request, gateway):
    """A one-use registration token that allows re-enrollment, and the commands that use it (shown once).

    For a gateway whose agent cannot take a new token over OpAMP: re-issuing cut it off, and
    re-enrolling is how it gets a token again (docs/gateway.md).
    """
    registration, raw = services.create_registration_token(
        gateway.organization,
        name=f"re-enroll {gateway.name}"[:100],
        created_by=request.user,
        max_uses=1,
        allow_re_enroll=True,
    )
    portal_url = settings.FLOWGATE_PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")
    return {
        "registration": registration,
        "install": gateway_commands.install_command(),
        "command": re_enroll_command(portal_url, raw, gateway),
        "re_enroll": True,
    }


class GatewayRestartView(GatewayPageMixin, View):
    http_method_names = ["post"]

    def post(self, request, pk):
        gateway = self.get_gateway()
        try:
            services.request_restart(gateway, request.user, request=request)
        except services.RestartRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Restart requested: {gateway.name}'s agent restarts its collector.")
        return redirect("gateways:detail", pk=gateway.pk)


class RegistrationTokenListView(OrgPageMixin, TemplateView):
    template_name = "gateways_app/tokens.html"
    write_role = Role.ADMIN

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = self.scoped(RegistrationToken).select_related("created_by").prefetch_related("tags")
        page = Paginator(rows.order_by("-created_at", "pk"), PAGE_SIZE).get_page(self.request.GET.get("page"))
        now = timezone.now()
        for token in page.object_list:
            token.current_state = token.state(now)
        context.update(page=page, query="")
        return context


class RegistrationTokenCreateView(OrgPageMixin, FormView):
    template_name = "gateways_app/token_create.html"
    form_class = RegistrationTokenForm
    write_role = Role.ADMIN

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        if "data" in kwargs:
            kwargs["data"] = kwargs["data"].copy()
            kwargs["data"]["organization"] = str(self.org.pk)  # always the current organization
        kwargs["initial"] = {"organization": self.org.pk, "max_uses": 1}
        return kwargs

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        form.fields["tags"].queryset = self.scoped(Tag).order_by("key", "value")
        form.fields["organization"].queryset = form.fields["organization"].queryset.filter(pk=self.org.pk)
        return form

    def form_valid(self, form):
        data = form.cleaned_data
        ttl = data["expires_at"] - timezone.now() if data.get("expires_at") else None
        try:
            row, raw = services.create_registration_token(
                self.org,
                name=data["name"],
                created_by=self.request.user,
                ttl=ttl,
                max_uses=data["max_uses"],
                tags=form.chosen_tags(),
                allow_re_enroll=data.get("allow_re_enroll", False),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        portal_url = settings.FLOWGATE_PUBLIC_URL or self.request.build_absolute_uri("/").rstrip("/")
        context = self.get_context_data(
            token=row,
            raw=raw,
            install=gateway_commands.install_command(),
            command=gateway_commands.run_command(portal_url, raw),
        )
        response = render(self.request, "gateways_app/token_created.html", context)
        add_never_cache_headers(response)  # the token is shown once: no cache may keep it
        return response


class RegistrationTokenRevokeView(OrgPageMixin, View):
    http_method_names = ["post"]
    write_role = Role.ADMIN

    def post(self, request, pk):
        token = self.get_scoped_object(self.scoped(RegistrationToken), pk=pk)
        services.revoke_registration_token(token, request.user)
        messages.success(request, f"Registration token {token.name} revoked: no gateway can enroll with it now.")
        return redirect("gateways:tokens")
