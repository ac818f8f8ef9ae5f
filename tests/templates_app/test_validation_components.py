"""Validation, step 3: component types must be available where the config will run."""

import pytest

from core_app.services import get_org_settings
from gateways_app.models import Gateway
from templates_app.components import catalogue
from templates_app.validation import validate_for_org

from .validation_helpers import VALID, codes, only_error, reported

KAFKA = VALID.replace("  otlphttp:\n    endpoint: https://collector.example.com:4318\n", "  kafka/out: {}\n").replace(
    "[otlphttp]", "[kafka/out]"
)


def make_gateway(org, name, available_components=None):
    return Gateway.objects.create(organization=org, name=name, available_components=available_components or {})


def test_the_catalogue_is_the_upstream_release_kept_in_the_repo():
    assert catalogue().name == "the otelcol-contrib v0.130.0 catalogue"
    assert catalogue().has("exporters", "kafka") and catalogue().has("connectors", "spanmetrics")
    assert not catalogue().has("exporters", "spanmetrics")


def test_an_unknown_component_is_refused_against_the_catalogue():
    error = only_error(VALID.replace("  batch: {}", "  frobnicator: {}").replace("[batch]", "[frobnicator]"))
    assert error.code == "component.unavailable"
    assert error.message.startswith("Processor type 'frobnicator' is not available: it is not in the otelcol-contrib")
    assert (error.path, error.line, error.column) == ("processors.frobnicator", 6, 3)


def test_a_component_of_the_wrong_section_is_unknown_there():
    # spanmetrics is a connector in the catalogue, not an exporter.
    text = VALID.replace("  otlphttp:\n", "  spanmetrics:\n").replace("[otlphttp]", "[spanmetrics]")
    assert only_error(text).code == "component.unavailable"


@pytest.mark.django_db
class TestTargets:
    def test_the_error_names_the_gateways_that_lack_the_component(self, org):
        with_kafka = make_gateway(org, "eu-1", reported(receivers=["otlp"], processors=["batch"], exporters=["kafka"]))
        without = [
            make_gateway(org, name, reported(receivers=["otlp"], processors=["batch"])) for name in ("us-1", "us-2")
        ]
        result = validate_for_org(KAFKA, org, gateways=[with_kafka, *without])
        assert [error.message for error in result.errors] == [
            "Exporter type 'kafka' is not available on gateways us-1, us-2."
        ]
        assert result.errors[0].path == "exporters.kafka/out"

    def test_a_gateway_that_reported_nothing_is_checked_against_the_catalogue(self, org):
        silent = make_gateway(org, "silent", {"hash": "ab", "components": {}})  # hash only
        assert validate_for_org(KAFKA, org, gateways=[silent]).valid
        odd = KAFKA.replace("kafka/out", "frobnicator")
        assert only_error(odd, scope=None).code == "component.unavailable"
        assert "on gateway silent." in validate_for_org(odd, org, gateways=[silent]).errors[0].message

    def test_the_orgs_extra_components_are_allowed_everywhere(self, org):
        settings = get_org_settings(org)
        settings.extra_allowed_components = ["kafka"]
        settings.save()
        gateway = make_gateway(org, "eu-1", reported(receivers=["otlp"], processors=["batch"]))
        assert validate_for_org(KAFKA, org, gateways=[gateway]).valid

    def test_a_long_list_of_gateways_is_cut_short(self, org):
        gateways = [make_gateway(org, f"gw-{index:02}", reported(receivers=["otlp"])) for index in range(13)]
        message = validate_for_org(VALID, org, gateways=gateways).errors[0].message
        assert message == (
            "Processor type 'batch' is not available on gateways gw-00, gw-01, gw-02, gw-03, gw-04, gw-05, gw-06, "
            "gw-07, gw-08, gw-09 and 3 more."
        )


@pytest.mark.django_db
class TestWithoutTargets:
    def test_the_org_pool_adds_what_its_gateways_reported_to_the_catalogue(self, org, other_org):
        custom = VALID.replace("  batch: {}", "  acme_scrubber: {}").replace("[batch]", "[acme_scrubber]")
        assert codes(validate_for_org(custom, org).errors) == ["component.unavailable"]
        make_gateway(org, "custom-build", reported(processors=["acme_scrubber"]))
        result = validate_for_org(custom, org)
        assert result.valid
        assert result.components == "the otelcol-contrib v0.130.0 catalogue and the components reported by 1 gateway"

    def test_gateways_of_one_build_are_counted_but_read_once(self, org, django_assert_num_queries):
        build = reported(processors=["acme_scrubber"])
        for name in ("a", "b", "c"):
            make_gateway(org, name, build)
        make_gateway(org, "hash-only", {"hash": "ff", "components": {}})
        with django_assert_num_queries(3):  # org settings, the hashes, one report per hash
            result = validate_for_org(VALID, org)
        assert result.components.endswith("reported by 3 gateways")

    def test_another_orgs_gateways_do_not_count(self, org, other_org):
        make_gateway(other_org, "globex-build", reported(processors=["acme_scrubber"]))
        custom = VALID.replace("  batch: {}", "  acme_scrubber: {}").replace("[batch]", "[acme_scrubber]")
        assert not validate_for_org(custom, org).valid
