"""Deployment pages: list, create (with a live preview of the selector), live progress and actions.

The form is the shared DeploymentForm (validated by services.check_deployment) saved through
services.create_deployment; pause/resume/cancel/roll back call deployments_app.actions. The
detail page polls its `_live.html` partial with htmx until the deployment finishes.
"""

import uuid

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.views import View
from django.views.generic import FormView, TemplateView

from core_app.models import Strategy
from core_app.pages import OrgPageMixin, is_htmx
from deployments_app import actions, services, target_check
from deployments_app.filters import DeploymentFilterSet, DeploymentTargetFilterSet
from deployments_app.forms import DeploymentForm, deployable
from deployments_app.models import (
    Deployment,
    DeploymentEvent,
    DeploymentStatus,
    DeploymentTarget,
    EventKind,
    TargetStatus,
)
from gateways_app.models import Gateway, Tag
from gateways_app.querysets import report_fields
from gateways_app.selection import resolve_targets
from templates_app.models import ConfigTemplate, TemplateVersion

PAGE_SIZE = 50
TARGETS_PAGE_SIZE = 100
PREVIEW_NAMES = 50
ACTIONS = {
    "pause": actions.pause,
    "resume": actions.resume,
    "cancel": actions.cancel,
    "rollback": actions.roll_back,
}


class DeploymentListView(OrgPageMixin, TemplateView):
    template_name = "deployments_app/list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = (
            self.scoped(Deployment)
            .with_progress()
            .select_related("template_version__template", "created_by")
            .order_by("-created_at", "-pk")
        )
        filterset = DeploymentFilterSet(self.request.GET or None, queryset=rows)
        if filterset.is_bound and filterset.is_valid():
            rows = filterset.qs
        page = Paginator(rows, PAGE_SIZE).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(
            filterset=filterset,
            page=page,
            query=query.urlencode(),
            statuses=DeploymentStatus.choices,
            strategies=Strategy.choices,
            chosen_statuses=self.request.GET.getlist("status"),
        )
        return context


class SelectorMixin:
    """The current organization's choices for a deployment's version, tags and gateways."""

    def narrow(self, form):
        versions = self.scoped(TemplateVersion).select_related("template").order_by("template__name", "-number")
        form.fields["template_version"].queryset = deployable(versions)
        form.fields["selector_tags"].queryset = self.scoped(Tag).order_by("key", "value")
        form.fields["selector_gateways"].queryset = self.scoped(Gateway).order_by("name")
        return form


class DeploymentCreateView(SelectorMixin, OrgPageMixin, FormView):
    template_name = "deployments_app/create.html"
    form_class = DeploymentForm

    def get_initial(self):
        initial = {"organization": self.org.pk}
        version_id = self.request.GET.get("template_version")
        if version_id:
            version = self.scoped(TemplateVersion).filter(pk=version_id).first() if _is_uuid(version_id) else None
            if version is not None:
                initial["template_version"] = version.pk
        return initial

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["user"] = self.request.user
        if "data" in kwargs:
            kwargs["data"] = kwargs["data"].copy()
            kwargs["data"]["organization"] = str(self.org.pk)  # always the current organization
        return kwargs

    def get_form(self, form_class=None):
        return self.narrow(super().get_form(form_class))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Plain pairs: a fleet of 1,000 gateways renders as one loop, not 1,000 option templates.
        versions = deployable(self.scoped(TemplateVersion)).order_by("template__name", "-number")
        context["version_choices"] = [
            (pk, f"{name} v{number}") for pk, name, number in versions.values_list("pk", "template__name", "number")
        ]
        context["gateway_choices"] = list(self.scoped(Gateway).order_by("name").values_list("pk", "name"))
        context["has_tags"] = self.scoped(Tag).exists()
        context["may_force"] = target_check.may_force(self.org, self.request.user)
        return context

    def form_valid(self, form):
        try:
            deployment = services.create_deployment(
                self.org, **form.deployment_kwargs(), user=self.request.user, request=self.request
            )
        except PermissionDenied as exc:
            form.add_error("force", str(exc))
            return self.form_invalid(form)
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        if deployment.forced:
            messages.warning(self.request, "Deployment created with force past the target check (audited).")
        messages.success(self.request, "Deployment created: it is being validated, then the rollout starts.")
        return redirect("deployments:detail", pk=deployment.pk)


class SelectorPreviewView(SelectorMixin, OrgPageMixin, TemplateView):
    """The gateways a selector matches right now, and whether they can run the chosen version
    (target_check, the same check as creating the deployment): htmx partial of the create page."""

    template_name = "deployments_app/_selector_preview.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        tag_ids = [value for value in self.request.GET.getlist("selector_tags") if _is_uuid(value)]
        gateway_ids = [value for value in self.request.GET.getlist("selector_gateways") if _is_uuid(value)]
        tags = list(self.scoped(Tag).filter(pk__in=tag_ids))
        gateways = list(self.scoped(Gateway).filter(pk__in=gateway_ids).only("pk"))
        matched = resolve_targets(self.org, tags=tags, gateways=gateways)
        count = matched.count()
        context.update(
            count=count,
            matched=list(matched.only("pk", "name", "status")[:PREVIEW_NAMES]),
            chose_something=bool(tags or gateways),
        )
        version_id = self.request.GET.get("template_version", "")
        versions = self.scoped(TemplateVersion).select_related("template")
        version = versions.filter(pk=version_id).first() if _is_uuid(version_id) else None
        if version is not None and count:
            context["version"] = version
            if version.is_deployable():
                targets = list(matched.only("pk", "name", "available_components"))
                context["check"] = result = target_check.check(self.org, version, targets)
                context["check_summary"] = result.summary(version)
                context["may_force"] = target_check.may_force(self.org, self.request.user)
        return context


def _is_uuid(value):
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


ROLLED_BACK_OR_ROLLING = {DeploymentStatus.ROLLING_BACK, DeploymentStatus.ROLLED_BACK}


def available_actions(deployment):
    """The actions the deployment's status allows (the same rules deployments_app.actions enforces)."""
    status = deployment.status
    allowed = []
    if status == DeploymentStatus.ROLLING_OUT:
        allowed.append("pause")
    if status == DeploymentStatus.PAUSED:
        allowed.append("resume")
    if status in actions.CANCELLABLE:
        allowed.append("cancel")
    if status not in actions.NOT_STARTED | actions.ROLLBACK_IMPOSSIBLE | ROLLED_BACK_OR_ROLLING:
        allowed.append("rollback")
    return allowed


class DeploymentPageMixin(OrgPageMixin):
    def get_deployment(self):
        deployments = self.scoped(Deployment).with_progress().select_related("template_version__template", "created_by")
        return self.get_scoped_object(deployments, pk=self.kwargs["pk"])


class DeploymentDetailView(DeploymentPageMixin, TemplateView):
    """The deployment with live progress; htmx requests get only the `_live.html` partial."""

    template_name = "deployments_app/detail.html"

    def get_template_names(self):
        return ["deployments_app/_live.html"] if is_htmx(self.request) else [self.template_name]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        deployment = self.get_deployment()
        targets = (
            DeploymentTarget.objects.filter(deployment=deployment)
            .select_related("gateway")
            .defer("previous_config", *report_fields(through="gateway"))
        )
        filterset = DeploymentTargetFilterSet(self.request.GET or None, queryset=targets)
        if filterset.is_bound and filterset.is_valid():
            targets = filterset.qs
        page = Paginator(targets.order_by("batch", "gateway__name"), TARGETS_PAGE_SIZE).get_page(
            self.request.GET.get("page")
        )
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(
            d=deployment,
            allowed_actions=available_actions(deployment),
            batches=deployment.batch_progress(),
            targets=page,
            page=page,
            query=query.urlencode(),
            target_statuses=TargetStatus.choices,
            events=DeploymentEvent.objects.filter(deployment=deployment).order_by("-created_at", "-id")[:100],
            selector_tags=list(deployment.selector_tags.all()),
            selector_gateway_count=deployment.selector_gateways.count(),
            deep_check_configured=bool(settings.FLOWGATE_COLLECTOR_BINARY),
        )
        return context


class DeploymentActionView(DeploymentPageMixin, View):
    """POST /deployments/<pk>/<action>/ with action pause, resume, cancel or rollback."""

    http_method_names = ["post"]

    def post(self, request, pk, action):
        operation = ACTIONS.get(action)
        if operation is None:
            raise Http404("No such action.")
        deployment = self.get_deployment()
        try:
            operation(deployment.pk, user=request.user, request=request)
        except actions.TransitionRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _done(deployment, action))
        return redirect("deployments:detail", pk=deployment.pk)


_DONE = {
    "pause": "Deployment paused: no new batch starts until you resume it.",
    "resume": "Deployment resumed.",
    "cancel": "Deployment cancelled.",
}


def _done(deployment, action):
    """What the action did; for a rollback, the timeline's exact counts (who returns, who keeps what)."""
    if action == "rollback":
        started = deployment.events.filter(kind=EventKind.ROLLBACK_STARTED).order_by("-created_at", "-id").first()
        return started.message
    return _DONE[action]


class RollBackToVersionView(OrgPageMixin, View):
    """POST /templates/<pk>/versions/<number>/rollback/: deploy the version again where another one runs.

    A deployment started from a template's pages (actions.roll_back_to_version): its route is in
    the templates section, `templates:rollback` (template_urlpatterns, mounted by flowgate_site/urls.py).
    """

    http_method_names = ["post"]

    def post(self, request, pk, number):
        template = self.get_scoped_object(self.scoped(ConfigTemplate), pk=pk)
        version = self.get_scoped_object(self.scoped(TemplateVersion).filter(template=template), number=number)
        try:
            deployment = actions.roll_back_to_version(version, user=request.user, request=request)
        except (actions.TransitionRefused, ValidationError) as exc:
            messages.error(request, _message(exc))
            return redirect("templates:version", pk=pk, number=number)
        messages.success(request, f"Rolling back to version {version.number}.")
        return redirect("deployments:detail", pk=deployment.pk)


def _message(exc):
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)
