#!/usr/bin/env python3
"""Production has no key and no password: everything is reached by identity.

Checks (each failure says which):
  storage    the storage account has allowSharedKeyAccess: false and
             defaultToOAuthAuthentication: true, and the app identity has the
             blob, queue and table data roles on it (the host and the handler
             reach all three by token);
  postgres   the flexible server has activeDirectoryAuth: 'Enabled' and
             passwordAuth: 'Disabled', and no administrator login or password;
  database   DATABASE_URL (built in main.bicep) has a user and no password, and
             the app logs in with its identity (CHARGEBACK_DB__credential);
  settings   every identity-based connection in the app settings names the
             managed identity (__credential: managedidentity, __clientId), and no
             setting holds an account key, SAS, shared access key or password;
             AzureWebJobsStorage is not a connection string;
  sources    no .bicep file lists keys (listKeys, listConnectionStrings, ...) or
             writes a key, SAS or password, and no @secure() parameter or output
             carries one, except the named app secrets below (HMAC and API keys
             of the app itself, written to Key Vault only, never Azure
             credentials);
  azd        main.parameters.json maps no password or key from the environment.

Usage: no_secrets.py
"""
import json
import re
import sys
from pathlib import Path

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"

# Built-in role definition ids (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
BLOB_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
}
QUEUE_ROLE = ("974c5e8b-45b9-4653-ba55-5f855dd0fb88", "Storage Queue Data Contributor")
TABLE_ROLE = ("0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3", "Storage Table Data Contributor")

# @secure() parameters that hold the app's own secrets (not Azure credentials)
# and go to Key Vault only: the HMAC key of the fingerprints, the standalone
# API key, and DATABASE_URL (which holds no password; the handler treats the
# setting as a secret).
APP_SECRETS = {"fingerprintSecret", "chargebackApiKey", "apiKey", "databaseUrl"}

# Outputs and settings whose name says "connection string" but that hold no
# credential: Application Insights with local authentication disabled takes
# telemetry only with an Entra token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
NOT_SECRETS = {"connectionString", "APPLICATIONINSIGHTS_CONNECTION_STRING"}

FORBIDDEN_CALLS = re.compile(r"\.\s*(listKeys|listConnectionStrings|listAccountSas|listServiceSas|listCredentials|listSecrets)\s*\(", re.I)
FORBIDDEN_TEXT = re.compile(r"AccountKey=|SharedAccessKey=|SharedAccessSignature=|Password=|administratorLoginPassword", re.I)
SECRET_NAME = re.compile(r"key|secret|password|sas\b|connectionstring", re.I)

failures = []


def fail(check: str, message: str) -> None:
    failures.append(f"{check}: {message}")


def parse(path: Path) -> dict:
    return BicepParser().parse(file_path=path)


def resources_of(parsed: dict, type_: str) -> list:
    return [(name, r) for name, r in parsed.get("resources", {}).items() if r.get("type") == type_]


def properties(resource: dict) -> dict:
    config = resource.get("config", {})
    if "loop_type" in config:  # a loop: the body is one level down
        config = config.get("config", {})
    return config.get("properties", {}) or {}


def check_storage() -> None:
    path = INFRA / "modules" / "storage.bicep"
    parsed = parse(path)
    accounts = resources_of(parsed, "Microsoft.Storage/storageAccounts")
    if not accounts:
        fail("storage", f"no storage account in {path.relative_to(ROOT)}")
    for name, account in accounts:
        props = properties(account)
        if props.get("allowSharedKeyAccess") is not False:
            fail("storage", f"{name}: allowSharedKeyAccess must be false (is {props.get('allowSharedKeyAccess')!r})")
        if props.get("defaultToOAuthAuthentication") is not True:
            fail("storage", f"{name}: defaultToOAuthAuthentication must be true")
    variables = {k: v.get("value") for k, v in parsed.get("variables", {}).items()}
    granted = set()
    for name, assignment in resources_of(parsed, "Microsoft.Authorization/roleAssignments"):
        if properties(assignment).get("principalId") != "appPrincipalId":
            continue
        loop = assignment.get("config", {}).get("loop_type", {}).get("detail", {})
        roles = variables.get(loop.get("array_name"), []) if loop else []
        granted |= {variables.get(r, r) for r in roles if isinstance(r, str)}
    if not granted & set(BLOB_ROLES):
        fail("storage", "the app identity has no blob data role (Storage Blob Data Owner or Contributor)")
    for role_id, role in (QUEUE_ROLE, TABLE_ROLE):
        if role_id not in granted:
            fail("storage", f"the app identity lacks {role} ({role_id})")


def check_postgres() -> None:
    path = INFRA / "modules" / "postgres.bicep"
    parsed = parse(path)
    servers = resources_of(parsed, "Microsoft.DBforPostgreSQL/flexibleServers")
    if not servers:
        fail("postgres", f"no flexible server in {path.relative_to(ROOT)}")
    for name, server in servers:
        props = properties(server)
        auth = props.get("authConfig", {}) or {}
        if auth.get("passwordAuth") != "Disabled":
            fail("postgres", f"{name}: authConfig.passwordAuth must be 'Disabled' (is {auth.get('passwordAuth')!r})")
        if auth.get("activeDirectoryAuth") != "Enabled":
            fail("postgres", f"{name}: authConfig.activeDirectoryAuth must be 'Enabled'")
        for key in ("administratorLogin", "administratorLoginPassword"):
            if key in props:
                fail("postgres", f"{name}: {key} is set; Entra administrators only")


def app_settings() -> dict:
    parsed = parse(INFRA / "modules" / "function-app.bicep")
    for _, resource in parsed.get("resources", {}).items():
        config = resource.get("config", {})
        if resource.get("type") == "Microsoft.Web/sites/config" and config.get("name") == "appsettings":
            props = config.get("properties")
            if isinstance(props, str):
                props = parsed.get("variables", {}).get(props, {}).get("value")
            if isinstance(props, dict):
                return props
    fail("settings", "no sites/config 'appsettings' in function-app.bicep")
    return {}


def check_settings_and_database() -> None:
    settings = app_settings()
    if "AzureWebJobsStorage" in settings:
        fail("settings", "AzureWebJobsStorage is set as a connection string; use AzureWebJobsStorage__accountName")
    connections = {k.split("__", 1)[0] for k in settings if "__" in k and not k.startswith("AzureFunctionsJobHost")}
    for connection in sorted(connections):
        credential = settings.get(f"{connection}__credential")
        if credential != "managedidentity":
            fail("settings", f"{connection}__credential must be 'managedidentity' (is {credential!r})")
        if f"{connection}__clientId" not in settings:
            fail("settings", f"{connection}__clientId is missing: the app uses its user-assigned identity")
    for key, value in settings.items():
        if isinstance(value, str) and FORBIDDEN_TEXT.search(value):
            fail("settings", f"{key} holds a key, SAS or password")
    if "CHARGEBACK_DB__credential" not in settings:
        fail("database", "CHARGEBACK_DB__credential is not set: the app would need a database password")
    main = (INFRA / "main.bicep").read_text()
    match = re.search(r"^var databaseUrl = '([^'\n]*)'", main, re.M)
    if not match:
        fail("database", "main.bicep has no `var databaseUrl = '...'`")
    else:
        user_info = match.group(1).split("://", 1)[-1].split("@", 1)
        if len(user_info) != 2 or ":" in user_info[0]:
            fail("database", f"DATABASE_URL must have a user and no password: {match.group(1)}")


def check_sources() -> None:
    for path in sorted(INFRA.rglob("*.bicep")):
        rel = path.relative_to(ROOT)
        text = path.read_text()
        for m in FORBIDDEN_CALLS.finditer(text):
            fail("sources", f"{rel}: {m.group(1)}() reads keys")
        code = "\n".join(line.split("//", 1)[0] for line in text.splitlines())
        for m in FORBIDDEN_TEXT.finditer(code):
            fail("sources", f"{rel}: writes {m.group(0)!r}")
        parsed = parse(path)
        for name, param in parsed.get("parameters", {}).items():
            secure = any("secure" in json.dumps(d) for d in param.get("decorators", []))
            if (secure or SECRET_NAME.search(name)) and name not in APP_SECRETS and not name.lower().endswith(("uri", "name")):
                fail("sources", f"{rel}: parameter {name} looks like a credential")
        for name in parsed.get("outputs", {}):
            if SECRET_NAME.search(name) and name not in NOT_SECRETS and not name.lower().endswith(("uri", "name")):
                fail("sources", f"{rel}: output {name} looks like a credential")


def check_azd() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text()).get("parameters", {})
    for name, value in parameters.items():
        if re.search(r"password|key\b|sas", name, re.I) or re.search(r"PASSWORD|_KEY\b", json.dumps(value)):
            fail("azd", f"main.parameters.json maps {name} from the environment")


def main() -> int:
    check_storage()
    check_postgres()
    check_settings_and_database()
    check_sources()
    check_azd()
    for f in failures:
        print(f"no-secrets: FAIL {f}", file=sys.stderr)
    print(f"no-secrets: storage by token, PostgreSQL by Entra login, no key or password: {'FAIL' if failures else 'ok'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
