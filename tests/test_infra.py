"""The deployment, checked here without Azure: infra/main.bicep parses (pycep-parser) and
passes checkov with every suppression explained and used; it sets every app setting the app
reads and nothing that neither the app nor the Functions host knows; no secret is in clear;
the blob trigger, storage, PgBouncer and authentication fit the app; and the package that
`func azure functionapp publish` builds from .funcignore holds the app and nothing else.

checkov and pycep-parser live in .venv-infra (scripts/setup; requirements-infra.txt says
why): they run here as subprocesses."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pathspec
import pytest
from cryptography.fernet import Fernet

from shared.settings import STORAGE_SETTING, load_settings
from tests.conftest import ROOT

TEMPLATE = ROOT / "infra" / "main.bicep"
INFRA_BIN = ROOT / ".venv-infra" / "bin"
PARSE = ("import json, sys; from pathlib import Path; from pycep import BicepParser; "
         "print(json.dumps(BicepParser().parse(file_path=Path(sys.argv[1])), default=str))")

# Read by the app but deliberately left unset by the template, and why.
NOT_SET_IN_AZURE = {
    STORAGE_SETTING: "identity-based: the template sets its __blobServiceUri form; no key exists",
    "WEBSITE_AUTH_ENABLED": "read-only: the platform sets it once authsettingsV2 is enabled",
    "NACHET_DEV_USER_EMAIL": "local mode only",
    "NACHET_VOUCH_JWT_SECRET": "Vouch cookies stand in for App Service Authentication, which is on",
}
# Set by the template for the Functions host, not for the app's settings.
HOST_SETTINGS = {
    "AzureWebJobsStorage__accountName", "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",  # the host's own storage, through the identity
    # The identity that sends telemetry: the host's, and the app's exporter reads it itself.
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    f"{STORAGE_SETTING}__queueServiceUri",  # the blob trigger's poison queue
}
# Deprecated on Flex Consumption (functions-app-settings.md, "Flex Consumption plan
# deprecations"): set by the platform or replaced by functionAppConfig.
FLEX_DEPRECATED = {
    "FUNCTIONS_EXTENSION_VERSION", "FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "FUNCTIONS_MAX_HTTP_CONCURRENCY", "FUNCTIONS_WORKER_PROCESS_COUNT",
    "FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED", "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTOVERVNET", "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
    "WEBSITE_NODE_DEFAULT_VERSION", "WEBSITE_VNET_ROUTE_ALL", "WEBSITE_DNS_SERVER",
    "WEBSITE_SKIP_CONTENTSHARE_VALIDATION",
}
# Settings holding a secret: in Azure their value must be a Key Vault reference.
SECRET_SETTINGS = {"NACHET_DB_URL", "NACHET_BLOB_PIPELINE_DECRYPTION_KEY", "NACHET_VOUCH_JWT_SECRET"}
KEY_VAULT_REFERENCE = re.compile(r"^@Microsoft\.KeyVault\(SecretUri=\$\{secretsUri\}secrets/(.+)\)$")
# What the template computes at deploy time, as a deployment would give it to the app.
DEPLOYED = {
    "NACHET_DB_URL": "postgresql://nachet:pw@nachet.postgres.database.azure.com:6432/nachet?sslmode=require",
    "NACHET_BLOB_PIPELINE_DECRYPTION_KEY": Fernet.generate_key().decode(),
    f"{STORAGE_SETTING}__blobServiceUri": "https://nachetabc.blob.core.windows.net/",
    f"{STORAGE_SETTING}__clientId": "6f0e4c5e-8d4b-4f5a-9a57-3c2b1d0e9f11",
    "NACHET_DB_POOL_MAX_SIZE": "4",
    "NACHET_FRONTEND_PUBLIC_URL": "https://nachet.example.org",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": (
        "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
        "IngestionEndpoint=https://canadacentral-1.in.applicationinsights.azure.com/"),
}


def run_infra_tool(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run a program of .venv-infra; fail (never skip) when scripts/setup did not make it."""
    program = INFRA_BIN / argv[0]
    assert program.exists(), f"{program} is missing: run scripts/setup"
    return subprocess.run([str(program), *argv[1:]], capture_output=True, text=True, timeout=300,
                          check=False, cwd=ROOT)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    """infra/main.bicep as pycep-parser reads it (the parser checkov uses)."""
    out = run_infra_tool("python", "-c", PARSE, str(TEMPLATE))
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def body(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's own properties, under its condition or loop."""
    config = resource["config"]
    return config["config"] if "condition" in config else config


def resolve(text: str, template: dict[str, Any]) -> str:
    """`text` with each ${name} of a plain string variable put in."""
    def variable(match: re.Match[str]) -> str:
        value = template["variables"].get(match.group(1), {}).get("value")
        return value if isinstance(value, str) else match.group(0)
    return re.sub(r"\$\{(\w+)\}", variable, text)


def app_settings(template: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The app settings the template sets (name -> value as written), and the parameters
    whose entries name further settings (loops over a parameter)."""
    site = body(template["resources"]["app"])["properties"]["siteConfig"]["appSettings"]
    assert site["function"]["type"] == "concat"
    settings: dict[str, Any] = {}
    dynamic = []
    for part in site["function"]["parameters"].values():
        value = template["variables"][part]["value"]
        if isinstance(value, list):
            settings |= {resolve(entry["name"], template): entry["value"] for entry in value}
        elif value["loop_type"]["detail"]["object_name"] in template["variables"]:
            settings |= template["variables"][value["loop_type"]["detail"]["object_name"]]["value"]
        else:
            dynamic.append(value["loop_type"]["detail"]["object_name"])
    return settings, dynamic


class Recording(dict[str, str]):
    """An environment that remembers every name the app looks up."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)


def evaluate(value: Any, template: dict[str, Any]) -> str | None:
    """A setting's value as the deployment computes it, where the template alone tells it:
    a literal, a string variable or parameter default (pycep writes a reference as its bare
    name), or an interpolation of those; None for the rest (resources' properties...)."""
    if not isinstance(value, str):
        return None
    for kind, key in (("variables", "value"), ("parameters", "default")):
        if value in template[kind]:
            found = template[kind][value].get(key)
            return found if isinstance(found, str) else None
    value = resolve(value, template)
    return None if "${" in value else value


def deployed_environment(settings: dict[str, Any], template: dict[str, Any]) -> dict[str, str]:
    """The app's environment in Azure: the template's values, and what the deployment
    computes (Key Vault references resolved, resources' properties) from DEPLOYED."""
    env = {name: DEPLOYED.get(name, evaluate(value, template)) for name, value in settings.items()
           if name not in HOST_SETTINGS}
    unknown = [name for name, value in env.items() if value is None]
    assert not unknown, f"add what the deployment gives these to DEPLOYED: {unknown}"
    return {name: value for name, value in env.items() if value is not None}


def test_the_template_parses_into_a_flex_consumption_python_app(template):
    resources = {r["type"] for r in template["resources"].values()}
    assert {"Microsoft.Web/sites", "Microsoft.Web/serverfarms", "Microsoft.Storage/storageAccounts",
            "Microsoft.DBforPostgreSQL/flexibleServers", "Microsoft.KeyVault/vaults",
            "Microsoft.Insights/components",
            "Microsoft.EventGrid/systemTopics/eventSubscriptions"} <= resources
    plan = body(template["resources"]["plan"])
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    app = body(template["resources"]["app"])
    assert app["kind"] == "functionapp,linux"
    assert app["properties"]["functionAppConfig"]["runtime"] == {"name": "python", "version": "3.11"}
    assert app["identity"]["type"] == "UserAssigned"


def test_checkov_passes_with_every_suppression_explained_and_used():
    out = run_infra_tool("checkov", "-f", str(TEMPLATE), "--framework", "bicep", "--skip-download",
                         "-o", "json")
    report = json.loads(out.stdout)
    assert report["summary"]["parsing_errors"] == 0, out.stdout[-2000:]
    assert report["summary"]["passed"] > 20
    results = report["results"]
    assert [(c["check_id"], c["resource"]) for c in results["failed_checks"]] == []
    applied = set()
    for check in results["skipped_checks"]:
        reason = check["check_result"]["suppress_comment"].strip()
        assert len(reason.split()) >= 4, (check["check_id"], reason)
        first, last = check["file_line_range"]
        applied |= {(check["check_id"], line) for line in range(first, last + 1)}
    written = [(m.group(1), number) for number, line in enumerate(TEMPLATE.read_text().splitlines(), 1)
               if (m := re.search(r"//checkov:skip=(CKV2?_\w+):", line))]
    assert written, "no suppression found: the pattern no longer matches the template"
    # A suppression that no check used is stale: the check no longer fails, or moved.
    assert [w for w in written if w not in applied] == []


def test_the_template_sets_what_the_app_reads_and_nothing_unknown(template):
    settings, dynamic = app_settings(template)
    env = Recording(deployed_environment(settings, template))
    loaded = load_settings(env)  # the template's values are valid settings
    assert loaded.storage_identity is not None and loaded.storage_identity.managed_identity
    assert loaded.storage_connection_string is None and not loaded.local_mode
    assert loaded.appinsights_connection_string is not None  # every invocation traced (shared.telemetry)
    assert env.read - settings.keys() == NOT_SET_IN_AZURE.keys()
    assert settings.keys() - env.read == HOST_SETTINGS
    assert not settings.keys() & FLEX_DEPRECATED
    # Model endpoint keys: app settings named by each model's api_key_setting (MODELS.md).
    assert dynamic == ["modelKeys"]


def test_only_settings_and_the_model_key_lookup_read_the_environment():
    # Any other reader of os.environ in shared/ would be a setting this test cannot see.
    readers = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "shared").rglob("*.py")
                     if re.search(r"os\.environ|getenv", path.read_text()))
    assert readers == ["shared/pipeline/endpoint_client.py", "shared/settings.py"]


def test_the_platform_switches_app_service_authentication_on(template):
    auth = body(template["resources"]["auth"])
    assert auth["name"] == "authsettingsV2"
    assert auth["properties"]["platform"]["enabled"] is True
    validation = auth["properties"]["globalValidation"]
    assert validation["requireAuthentication"] is True
    health = json.loads((ROOT / "health" / "function.json").read_text())["bindings"][0]["route"]
    # Operator routes take a function key, not a user (README, Operator routes).
    keyed = [f"/api/{binding['route']}" for path in ROOT.glob("*/function.json")
             for binding in json.loads(path.read_text())["bindings"]
             if binding.get("authLevel") == "function"]
    assert keyed and sorted(validation["excludedPaths"]) == sorted(
        [f"/api/{health}", "/runtime/webhooks/blobs", *keyed])


def test_the_tuned_settings_are_the_apps_defaults(template):
    base = {"NACHET_DB_URL": "postgresql://h/db", STORAGE_SETTING: "UseDevelopmentStorage=true"}
    tuning = template["variables"]["tuning"]["value"]
    assert load_settings({**base, **tuning}) == load_settings(base)


def blob_triggers() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(ROOT.glob("*/function.json")):
        for binding in json.loads(path.read_text())["bindings"]:
            if binding["type"] == "blobTrigger":
                yield path.parent.name, binding


def test_the_blob_trigger_is_fed_by_event_grid(template):
    settings, _ = app_settings(template)
    [(function, binding)] = blob_triggers()
    assert binding["source"] == "EventGrid"  # the only source on Flex Consumption
    prefix = binding["connection"]
    assert {f"{prefix}__{p}" for p in ("blobServiceUri", "queueServiceUri", "credential")} <= settings.keys()
    subscription = template["resources"]["pictureEvents"]
    assert subscription["config"]["condition"] == "subscribePictureEvents"
    properties = body(subscription)["properties"]
    url = properties["destination"]["properties"]["endpointUrl"]
    assert url.startswith("https://${app.properties.defaultHostName}/runtime/webhooks/blobs"
                          f"?functionName=Host.Functions.{function}&code=${{listKeys('${{app.id}}/host/default'")
    assert url.endswith(".systemKeys.blobs_extension}")
    pictures = settings["NACHET_PICTURES_CONTAINER"]
    assert binding["path"].startswith("%NACHET_PICTURES_CONTAINER%/")
    assert resolve(properties["filter"]["subjectBeginsWith"], template) == \
        f"/blobServices/default/containers/{resolve('${' + pictures + '}', template)}/blobs/"
    assert properties["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]


def test_storage_has_the_apps_containers_no_key_and_cors_for_the_client(template):
    settings, _ = app_settings(template)
    account = body(template["resources"]["storage"])["properties"]
    assert account["allowSharedKeyAccess"] is False and account["allowBlobPublicAccess"] is False
    containers = template["resources"]["containers"]["config"]["loop_type"]["detail"]["array_name"]
    names = {resolve("${" + c + "}", template) for c in containers}
    assert {resolve("${" + settings[s] + "}", template)
            for s in ("NACHET_PICTURES_CONTAINER", "NACHET_THUMBNAILS_CONTAINER",
                      "NACHET_EXPORTS_CONTAINER")} < names
    deployment = body(template["resources"]["app"])["properties"]["functionAppConfig"]["deployment"]
    assert deployment["storage"]["value"].endswith("${deploymentContainer}")
    assert "deploymentContainer" in containers
    [rule] = body(template["resources"]["blobService"])["properties"]["cors"]["corsRules"]
    assert rule["allowedOrigins"] == "webClientOrigins" and "GET" in rule["allowedMethods"]
    cors = body(template["resources"]["app"])["properties"]["siteConfig"]["cors"]
    assert cors == {"allowedOrigins": "webClientOrigins", "supportCredentials": True}


def test_the_app_goes_through_pgbouncer_in_transaction_mode(template):
    parameters = {p["name"]: p["value"] for p in template["variables"]["dbParameters"]["value"]}
    assert parameters["pgbouncer.enabled"] == "true"
    assert parameters["pgbouncer.pool_mode"] == "transaction"
    url = body(template["resources"]["dbUrlSecret"])["properties"]["value"]
    assert re.search(r"@\$\{db\.properties\.fullyQualifiedDomainName\}:6432/", url)
    assert url.endswith("?sslmode=require")
    # PgBouncer does not run on Burstable servers.
    assert "Burstable" not in template["parameters"]["dbSkuTier"]["decorators"][0]["argument"]


def string_leaves(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from string_leaves(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from string_leaves(value, (*path, str(index)))
    elif isinstance(node, str):
        yield path, node


def test_no_secret_in_clear(template):
    parameters = template["parameters"]
    secure = {name for name, p in parameters.items() if {"type": "secure"} in p["decorators"]}
    assert {name for name in parameters if re.search(r"(?i)(password|secret|keys?)$", name)} == secure
    assert all(parameters[name]["default"] in (None, {}) for name in secure)
    vault_secrets = {name for name, r in template["resources"].items()
                     if r["type"] == "Microsoft.KeyVault/vaults/secrets"}
    # A secure parameter reaches only the server's password, Key Vault secrets, and loops
    # that read the names (entry.key) of its entries.
    for path, text in string_leaves(template):
        for name in secure:
            if not re.search(rf"\b{name}\b", text) or path[:2] == ("parameters", name):
                continue
            in_secret = path[0] == "resources" and path[1] in vault_secrets
            allowed = (path[-3:] == ("loop_type", "detail", "object_name")
                       or path[-2:] == ("properties", "administratorLoginPassword")
                       or (in_secret and path[-2:] == ("properties", "value")))
            assert allowed, (name, path)
    for path, text in string_leaves(template):
        if path[0] != "resources" or path[1] not in vault_secrets:
            assert not re.search(r"\bentry\.value\b", text), path
    settings, _ = app_settings(template)
    for name in SECRET_SETTINGS & settings.keys():
        reference = KEY_VAULT_REFERENCE.match(settings[name])
        assert reference and reference.group(1).removesuffix(".name}").removeprefix("${") in vault_secrets
    model_keys = template["variables"]["modelKeySettings"]["value"]["config"]
    model_key = KEY_VAULT_REFERENCE.match(model_keys["value"])
    assert model_key and model_key.group(1) == body(template["resources"]["modelKeySecrets"])["name"]
    text = TEMPLATE.read_text()
    assert "AccountKey" not in text and "connectionString" not in text.lower().replace("_", "")
    # The only key read at deploy time: the blob extension's, which Event Grid must send.
    assert re.findall(r"listKeys\([^)]*\)\.\w+\.\w+", text) == \
        ["listKeys('${app.id}/host/default', '2024-04-01').systemKeys.blobs_extension"]
    assert not [o for o in template["outputs"].values() if any(s in json.dumps(o) for s in secure)]


# ---- .funcignore: the package as `func azure functionapp publish` builds it ----

def funcignore() -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines((ROOT / ".funcignore").read_text().splitlines())


def ignored(spec: pathspec.GitIgnoreSpec, path: str) -> bool:
    """Whether the publish leaves `path` out: it or one of its folders is ignored."""
    parts = path.split("/")
    return any(spec.match_file("/".join(parts[:i]) + "/") for i in range(1, len(parts))) \
        or spec.match_file(path)


def package() -> set[str]:
    """Every file of the working tree that the publish packs (ignored folders not entered)."""
    spec = funcignore()
    files: set[str] = set()
    for folder, dirs, names in os.walk(ROOT):
        here = Path(folder).relative_to(ROOT)
        dirs[:] = [d for d in dirs if not spec.match_file(f"{(here / d).as_posix()}/")]
        files |= {p for n in names if not spec.match_file(p := (here / n).as_posix())}
    return files


def test_the_package_is_the_functions_shared_and_the_host_files():
    files = package()
    functions = {path.parent.name for path in ROOT.glob("*/function.json")}
    assert len(functions) >= 19
    tracked = subprocess.run(["git", "ls-files", "shared"], capture_output=True, text=True, check=True,
                             cwd=ROOT).stdout.split()
    required = {"host.json", "requirements.txt", *tracked,
                *(f"{f}/{n}" for f in functions for n in ("function.json", "__init__.py"))}
    assert any(p.endswith(".sql") for p in tracked)  # the migrations ship
    assert required - files == set()
    # Nothing else: no development file, whatever is lying in the working tree.
    top_level = {p for p in files if p.split("/")[0] not in functions | {"shared"}}
    assert top_level == {"host.json", "requirements.txt"}


@pytest.mark.parametrize("path", [
    "tests/conftest.py", "devhost/server.py", "bench/bench_inference.py", "scripts/run", "admin/repair.py",
    "manage.py", ".data/postgres/PG_VERSION", ".test-artifacts/webclient/1.png", "node_modules/x/index.js",
    ".venv/bin/python", ".venv-infra/bin/checkov", "local.settings.json", "local.settings.json.template",
    "infra/main.bicep", ".github/workflows/ci.yml", ".ci/run", "README.md", "requirements-dev.txt",
    "requirements-infra.txt", "pyproject.toml", "package.json", "package-lock.json", ".gitignore",
    "shared/__pycache__/settings.cpython-311.pyc", "__blobstorage__/x", "__azurite_db_blob__.json",
])
def test_development_files_stay_out_of_the_package(path):
    assert ignored(funcignore(), path)
