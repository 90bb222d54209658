#!/usr/bin/env python3
"""The app settings the Bicep sets are exactly the ones something reads.

Sources compared:
  code      `chargeback settings` (every variable the handler reads; live, not a copy)
  bindings  %NAME% references and `connection` names in */function.json (read by
            the host on behalf of our functions)
  bicep     the keys of `appSettings` in infra/modules/function-app.bicep
  local     the Values of local.settings.json.example

Rules (each failure says which):
  1. every name the code or a binding reads is set by the Bicep, either as is or,
     for identity-based connections, as NAME__<part> (NAME__fullyQualifiedNamespace,
     NAME__accountName, ...);
  2. every name the Bicep sets is read by the code or a binding, or is a platform
     setting on the short PLATFORM list below;
  3. names the code says the host sets are on HOST_PROVIDED and the Bicep leaves
     them alone;
  4. secrets are Key Vault references in the Bicep, never values;
  5. local.settings.json.example names everything the code and bindings read.

Usage: app_settings.py --binary PATH/TO/chargeback
"""
import argparse
import glob
import json
import re
import subprocess
import sys
from pathlib import Path

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_APP_BICEP = ROOT / "infra" / "modules" / "function-app.bicep"
LOCAL_SETTINGS = ROOT / "local.settings.json.example"

# Set by the Functions host (or the platform) for the handler process; never an
# app setting. IDENTITY_ENDPOINT/IDENTITY_HEADER: the managed identity endpoint;
# AZURE_FEDERATED_TOKEN_FILE: Kubernetes workload identity (developers only).
HOST_PROVIDED = {"FUNCTIONS_CUSTOMHANDLER_PORT", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "AZURE_FEDERATED_TOKEN_FILE"}

# Parts of an identity-based connection that replace another part: explicit
# service URIs instead of __accountName (sovereign clouds, Azurite over HTTPS).
# The Bicep sets __accountName; setting the URIs empty would confuse the host.
ALTERNATIVES = {
    "__blobServiceUri": "__accountName",
    "__queueServiceUri": "__accountName",
    "__tableServiceUri": "__accountName",
}

# Read by the Functions host itself whatever the functions are (its own storage).
HOST_REQUIRED = {"AzureWebJobsStorage"}

# Read by the platform (host, telemetry), not by our code or bindings.
PLATFORM = {
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}

# Set by the Bicep ahead of the code (planned in the handler's roadmap). Each
# is a warning, not a failure, until the code reads it; then drop it from here.
PENDING_IN_CODE: dict = {}

# Local-only settings the example may carry besides what is read.
LOCAL_ONLY = {
    "FUNCTIONS_WORKER_RUNTIME",
    "AzureWebJobsFeatureFlags",
    # Lets `func start` in the repository root run the debug build directly.
    "AzureFunctionsJobHost__customHandler__description__defaultExecutablePath",
}

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def code_settings(binary: str) -> dict:
    """name -> {"set_by": ..., "secret": bool} from `chargeback settings`."""
    try:
        run = subprocess.run([binary, "settings"], capture_output=True, text=True, timeout=60)
    except OSError as exc:
        sys.exit(f"app-settings: FAIL cannot run {binary}: {exc}")
    if run.returncode != 0:
        sys.exit(
            f"app-settings: FAIL `{binary} settings` exited {run.returncode}; the handler must offer "
            f"`chargeback settings` (one setting per line: name, set-by, secret|plain, meaning).\n"
            f"stderr: {run.stderr.strip()[:500]}"
        )
    settings = {}
    for line in run.stdout.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        name = fields[0].strip()
        if not NAME.match(name) or name.upper() == "NAME":
            continue
        flags = {f.strip().lower() for f in fields[1:3]}
        settings[name] = {"set_by": "host" if "host" in flags else "app", "secret": "secret" in flags}
    if not settings:
        sys.exit(f"app-settings: FAIL `{binary} settings` printed no setting names:\n{run.stdout[:500]}")
    return settings


def binding_settings() -> tuple[set, set]:
    """(%NAME% references, connection names) in every */function.json."""
    percent, connections = set(), set()
    for path in sorted(glob.glob(str(ROOT / "*" / "function.json"))):
        text = Path(path).read_text()
        percent |= set(re.findall(r"%([A-Za-z_][A-Za-z0-9_]*)%", text))
        for binding in json.loads(text).get("bindings", []):
            if binding.get("connection"):
                connections.add(binding["connection"])
    return percent, connections


def bicep_settings() -> dict:
    """key -> value (a string, or pycep's tree for expressions) of appSettings."""
    parsed = BicepParser().parse(file_path=FUNCTION_APP_BICEP)
    for resource in parsed.get("resources", {}).values():
        config = resource.get("config", {})
        if resource.get("type") == "Microsoft.Web/sites/config" and config.get("name") == "appsettings":
            props = config.get("properties")
            if isinstance(props, str):  # a variable name
                props = parsed.get("variables", {}).get(props, {}).get("value")
            if isinstance(props, dict):
                return props
    sys.exit(f"app-settings: FAIL no sites/config 'appsettings' with an object of settings in {FUNCTION_APP_BICEP}")


def satisfied(name: str, keys: set) -> bool:
    if name in keys or any(k.startswith(name + "__") for k in keys):
        return True
    base, _, part = name.partition("__")
    return bool(part) and f"{base}{ALTERNATIVES.get('__' + part, '')}" in keys and f"__{part}" in ALTERNATIVES


def satisfied_locally(name: str, local: set) -> bool:
    """Locally an identity part (NAME__part) is satisfied by NAME as a connection string."""
    base, _, part = name.partition("__")
    return satisfied(name, local) or (bool(part) and base in local)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()

    code = code_settings(args.binary)
    percent, connections = binding_settings()
    bicep = bicep_settings()
    keys = set(bicep)
    failures, warnings = [], []

    code_host = {n for n, s in code.items() if s["set_by"] == "host"}
    code_app = set(code) - code_host
    read = code_app | percent | connections | HOST_REQUIRED

    for name in sorted(code_host - HOST_PROVIDED):
        failures.append(f"{name}: the code says the host sets it, but it is not on HOST_PROVIDED in {Path(__file__).name}")
    for name in sorted(HOST_PROVIDED & keys):
        failures.append(f"{name}: set by the host, so the Bicep must not set it")

    for name in sorted(read):
        if not satisfied(name, keys):
            source = "the code" if name in code_app else "the host" if name in HOST_REQUIRED else "a function.json binding"
            failures.append(f"{name}: read by {source}, not set in {FUNCTION_APP_BICEP.relative_to(ROOT)}")

    for key in sorted(keys):
        base = key.split("__", 1)[0]
        if key in read or base in read or key in PLATFORM or key in HOST_PROVIDED:
            continue
        if key in PENDING_IN_CODE:
            warnings.append(f"{key}: set by the Bicep for {PENDING_IN_CODE[key]}, not yet read by the code")
            continue
        failures.append(f"{key}: set by the Bicep, but neither the code nor a binding reads it")
    for key in sorted(set(PENDING_IN_CODE) & code_app):
        warnings.append(f"{key}: the code reads it now; remove it from PENDING_IN_CODE")

    for name in sorted(n for n, s in code.items() if s["secret"]):
        value = bicep.get(name)
        if value is not None and not (isinstance(value, str) and value.startswith("@Microsoft.KeyVault(")):
            failures.append(f"{name}: a secret, so the Bicep must set it as @Microsoft.KeyVault(SecretUri=...)")

    if not LOCAL_SETTINGS.is_file():
        failures.append(f"{LOCAL_SETTINGS.name} is missing")
    else:
        local = json.loads(LOCAL_SETTINGS.read_text()).get("Values", {})
        if local.get("FUNCTIONS_WORKER_RUNTIME") != "custom":
            failures.append(f"{LOCAL_SETTINGS.name}: FUNCTIONS_WORKER_RUNTIME must be 'custom'")
        for name in sorted(read | set(PENDING_IN_CODE)):
            if not satisfied_locally(name, set(local)):
                failures.append(f"{LOCAL_SETTINGS.name}: {name} is read but has no local value")
        for key in sorted(set(local)):
            base = key.split("__", 1)[0]
            if key in read or base in read or key in PENDING_IN_CODE or key in LOCAL_ONLY or key in PLATFORM:
                continue
            failures.append(f"{LOCAL_SETTINGS.name}: {key} is not read by anything")

    for w in warnings:
        print(f"app-settings: WARN {w}")
    for f in failures:
        print(f"app-settings: FAIL {f}", file=sys.stderr)
    print(
        f"app-settings: code reads {len(code)} ({len(code_host)} from the host), bindings {len(percent | connections)}, "
        f"Bicep sets {len(keys)}: {'FAIL' if failures else 'ok'}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
