"""Where templates run: what template pages and validation learn from the apps above templates_app.

templates_app stands beside gateways_app and below deployments_app (docs/architecture.md, "Layers"):
it imports neither. The questions it needs answered about gateways and deployments are these
four functions, which DeploymentsConfig.ready() registers (deployments_app stands on both). Until
then they answer as for an organization with no gateway and no deployment.

- `component_reports(org)`: [(available_components, gateway count)], one per distinct
  AvailableComponents report of the organization's gateways (validation's pooled scope);
- `deployed_counts(org, hashes)`: {sha256: number of the organization's gateways whose desired
  config has that hash};
- `running_counts(org, hashes)`: {sha256: number of the organization's gateways that reported the
  remote config with that hash as applied} (what the fleet runs, whatever deployments asked);
- `recent_deployments(org, template, limit)`: the template's deployments, newest first, with
  their progress.
"""

# Answers for an organization with no gateway and no deployment, until register() is called.
_answers = {
    "component_reports": lambda org: [],
    "deployed_counts": lambda org, hashes: {},
    "running_counts": lambda org, hashes: {},
    "recent_deployments": lambda org, template, limit: [],
}


def register(**answers):
    """Set the answers, by the names above (DeploymentsConfig.ready() calls this once)."""
    unknown = set(answers) - set(_answers)
    if unknown:
        raise TypeError(f"Unknown template usage answers: {', '.join(sorted(unknown))}")
    _answers.update(answers)


def component_reports(org):
    return _answers["component_reports"](org)


def _per_version(answer, org, versions):
    by_hash = {}
    for version in versions:
        by_hash.setdefault(version.sha256, []).append(version.pk)
    counts = {}
    for digest, count in _answers[answer](org, list(by_hash)).items():
        for version_id in by_hash[digest]:
            counts[version_id] = count
    return counts


def deployed_counts(org, versions):
    """{version id: number of gateways whose desired config is that version's content} (one query)."""
    return _per_version("deployed_counts", org, versions)


def running_counts(org, versions):
    """{version id: number of gateways that applied that version's content} (one query)."""
    return _per_version("running_counts", org, versions)


def recent_deployments(org, template, limit=10):
    return _answers["recent_deployments"](org, template, limit)
