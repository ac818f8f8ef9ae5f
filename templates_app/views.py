"""Template pages: list, create, new version in the YAML editor, history, diff, pipeline diagram.

Thin views over the shared forms (templates_app.forms), services (create_template,
create_version, diff_versions) and validation (templates_app.validation). Rolling back to a
version is a deployment: deployments_app.views.RollBackToVersionView, under this section's URLs.
Every lookup goes through OrgPageMixin.scoped().
"""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View
from django.views.generic import FormView, TemplateView

from core_app.diffview import side_by_side_rows, unified_rows
from core_app.errors import PublicNotFound
from core_app.pages import OrgPageMixin, is_htmx
from templates_app import services, usage, validation
from templates_app.diagram import pipeline_diagram
from templates_app.filters import ConfigTemplateFilterSet
from templates_app.forms import ConfigTemplateForm, TemplateVersionForm
from templates_app.models import ConfigTemplate, TemplateType, TemplateVersion

PAGE_SIZE = 50


def diagram_of(version):
    try:
        return pipeline_diagram(services.parse_collector_yaml(version.config_yaml))
    except ValidationError:
        return None


class TemplatePageMixin(OrgPageMixin):
    """Finds the URL's template among the current organization's."""

    def get_template_object(self):
        if not hasattr(self, "_template"):
            templates = self.scoped(ConfigTemplate).select_related("created_by")
            self._template = self.get_scoped_object(templates, pk=self.kwargs["pk"])
        return self._template

    def get_version(self, number):
        versions = self.scoped(TemplateVersion).filter(template=self.get_template_object()).select_related("author")
        return self.get_scoped_object(versions, number=number)


class TemplateListView(OrgPageMixin, TemplateView):
    template_name = "templates_app/list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        of_template = TemplateVersion.objects.filter(template=OuterRef("pk")).order_by("-number")
        templates = (
            self.scoped(ConfigTemplate)
            .with_version_stats()
            .annotate(
                # "Current" is the latest deployable version (ConfigTemplate.current_version); the
                # latest one is named beside it when it is not (invalid, or still being checked).
                current_state=Subquery(of_template.deployable().values("validation_state")[:1]),
                latest_state=Subquery(of_template.values("validation_state")[:1]),
            )
        )
        filterset = ConfigTemplateFilterSet(self.request.GET or None, queryset=templates)
        rows = filterset.qs if filterset.is_bound and filterset.is_valid() else templates
        page = Paginator(rows.order_by("name", "pk"), PAGE_SIZE).get_page(self.request.GET.get("page"))
        self._add_fleet(page.object_list)
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(filterset=filterset, page=page, query=query.urlencode(), types=TemplateType.choices)
        return context

    def _add_fleet(self, templates):
        """Set on each template `deployed_on` (gateways asked to run any of its versions) and
        `running` ([(version number, gateways that applied it)], newest first): one query each."""
        versions = list(
            self.scoped(TemplateVersion)
            .filter(template__in=[t.pk for t in templates])
            .only("pk", "template", "number", "sha256")
            .order_by("-number")
        )
        deployed = usage.deployed_counts(self.org, versions)
        running = usage.running_counts(self.org, versions)
        for template in templates:
            mine = [v for v in versions if v.template_id == template.pk]
            # Versions with the same content share their gateways: count each content once.
            distinct = {v.sha256: v for v in reversed(mine)}.values()
            template.deployed_on = sum(deployed.get(v.pk, 0) for v in distinct)
            template.running = [(v.number, running[v.pk]) for v in mine if running.get(v.pk) and v in distinct]
            template.running_on = sum(count for _, count in template.running)


class EditorContextMixin:
    """What the YAML editor needs: where to validate as you type, and the template type field."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["validate_url"] = reverse("templates:validate")
        return context


class TemplateCreateView(EditorContextMixin, OrgPageMixin, FormView):
    template_name = "templates_app/create.html"
    form_class = ConfigTemplateForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["user"] = self.request.user
        if "data" in kwargs:
            kwargs["data"] = kwargs["data"].copy()
            kwargs["data"]["organization"] = str(self.org.pk)  # always the current organization
        kwargs["initial"] = {"organization": self.org.pk}
        return kwargs

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        form.fields["description"].widget.attrs["rows"] = 3
        return form

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            template = services.create_template(
                self.org,
                name=data["name"],
                type=data["type"],
                description=data["description"],
                config_yaml=data.get("config_yaml") or None,
                change_summary=data.get("change_summary") or "Initial version",
                author=self.request.user,
                request=self.request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        messages.success(self.request, f"Template {template.name} created.")
        return redirect("templates:detail", pk=template.pk)


class TemplateDetailView(TemplatePageMixin, TemplateView):
    template_name = "templates_app/detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        template = self.get_template_object()
        versions = list(self.scoped(TemplateVersion).filter(template=template).select_related("author"))
        deployed = usage.deployed_counts(self.org, versions)
        running = usage.running_counts(self.org, versions)
        for version in versions:
            version.deployed_on = deployed.get(version.pk, 0)
            version.running_on = running.get(version.pk, 0)
        # Current: the latest deployable version (ConfigTemplate.current_version), never an invalid one.
        current = next((version for version in versions if version.is_deployable()), None)
        shown = current or (versions[0] if versions else None)
        deployments = usage.recent_deployments(self.org, template, limit=10)
        context.update(
            template=template,
            versions=versions,
            current=current,
            shown=shown,
            checking=any(version.is_checking for version in versions),
            diagram=diagram_of(shown) if shown else None,
            deployments=deployments,
        )
        return context

    def get_template_names(self):
        # htmx polls the version history while a version is being checked.
        return ["templates_app/_versions.html"] if is_htmx(self.request) else [self.template_name]


class VersionDetailView(TemplatePageMixin, TemplateView):
    template_name = "templates_app/version.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        template = self.get_template_object()
        version = self.get_version(self.kwargs["number"])
        version.deployed_on = usage.deployed_counts(self.org, [version]).get(version.pk, 0)
        version.running_on = usage.running_counts(self.org, [version]).get(version.pk, 0)
        current = template.versions.deployable().order_by("-number").values_list("number", flat=True).first()
        context.update(
            template=template,
            version=version,
            current_number=current,
            is_current=version.number == current,
            lines=version.config_yaml.splitlines(),
            error_lines={message.get("line") for message in version.validation_errors if message.get("line")},
            diagram=diagram_of(version),
        )
        return context

    def get_template_names(self):
        # htmx polls the version's state, errors and actions while it is being checked.
        return ["templates_app/_version_live.html"] if is_htmx(self.request) else [self.template_name]


class VersionCreateView(EditorContextMixin, TemplatePageMixin, FormView):
    """A new version of the template: its YAML (starting from the current one) and a change summary."""

    template_name = "templates_app/edit.html"
    form_class = TemplateVersionForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        template = self.get_template_object()
        kwargs["user"] = self.request.user
        if "data" in kwargs:
            kwargs["data"] = kwargs["data"].copy()
            kwargs["data"]["template"] = str(template.pk)
        # The editor starts from the newest version (a fix of an invalid one starts from it).
        latest = template.latest_version()
        kwargs["initial"] = {"template": template.pk, "config_yaml": latest.config_yaml if latest else ""}
        return kwargs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        template = self.get_template_object()
        context.update(template=template, latest=template.latest_version())
        return context

    def form_valid(self, form):
        template = self.get_template_object()
        try:
            version = services.create_version(
                template,
                config_yaml=form.cleaned_data["config_yaml"],
                change_summary=form.cleaned_data["change_summary"],
                author=self.request.user,
                request=self.request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        if version.validation_errors:
            messages.warning(self.request, f"Version {version.number} saved, but it is invalid: it cannot be deployed.")
        elif version.is_checking:
            messages.success(
                self.request,
                f"Version {version.number} saved. The collector is checking it: it can be deployed once the check "
                "has passed.",
            )
        else:
            messages.success(self.request, f"Version {version.number} saved.")
        return redirect("templates:version", pk=template.pk, number=version.number)


class DiffView(TemplatePageMixin, TemplateView):
    """Two versions side by side (or unified): ?from=N&to=M&view=split|unified."""

    template_name = "templates_app/diff.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        template = self.get_template_object()
        numbers = list(template.versions.order_by("-number").values_list("number", flat=True))
        if not numbers:
            raise PublicNotFound("This template has no version yet.")
        to_number = _number(self.request.GET.get("to"), numbers[0])
        from_number = _number(self.request.GET.get("from"), numbers[1] if len(numbers) > 1 else numbers[0])
        old, new = self.get_version(from_number), self.get_version(to_number)
        diff = services.diff_versions(old, new)
        view = "unified" if self.request.GET.get("view") == "unified" else "split"
        context.update(
            template=template,
            numbers=numbers,
            old=old,
            new=new,
            view=view,
            identical=not diff,
            rows=unified_rows(diff) if view == "unified" else side_by_side_rows(diff),
        )
        return context


def _number(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class ValidateView(OrgPageMixin, View):
    """POST {"config_yaml", "type"}: the validation result as JSON (the editor's validate-as-you-type).

    Same role rule as the API's POST /validation (validation.VALIDATE_ROLE): viewers may validate.
    """

    http_method_names = ["post"]
    write_role = validation.VALIDATE_ROLE

    def post(self, request):
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return JsonResponse({"detail": "Send a JSON object."}, status=400)
        text = body.get("config_yaml") if isinstance(body, dict) else None
        if not isinstance(text, str):
            return JsonResponse({"config_yaml": ["Give the configuration as YAML text."]}, status=400)
        template_type = body.get("type") if body.get("type") in TemplateType.values else TemplateType.FULL
        result = validation.validate_for_org(text, self.org, template_type=template_type)
        return JsonResponse(result.as_dict())
