#!/usr/bin/env bash
# azd postprovision hook: makes sure Key Vault holds the fingerprint key
# (CHARGEBACK_FINGERPRINT_SECRET). If the secret exists it is left alone:
# changing it changes every fingerprint the ledger holds. If it does not, a
# random 32-byte key is created here and never printed.
#
# Needs the Azure CLI logged in as the same principal azd uses (the deployer
# has Key Vault Secrets Officer on the vault, see infra/modules/key-vault.bicep).
set -euo pipefail

vault="$(azd env get-value KEY_VAULT_NAME)"
name="chargeback-fingerprint-secret"
err="$(mktemp)"
trap 'rm -f "$err"' EXIT

if ! command -v az >/dev/null 2>&1; then
    echo "ensure-fingerprint-secret: the Azure CLI (az) is not installed; set the secret by hand:" >&2
    echo "  az keyvault secret set --vault-name $vault --name $name --value \"\$(openssl rand -hex 32)\"" >&2
    exit 1
fi

# The role assignment made by this very provision can take a few minutes to apply.
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if az keyvault secret show --vault-name "$vault" --name "$name" --query id -o tsv >/dev/null 2>"$err"; then
        echo "ensure-fingerprint-secret: $vault/$name exists; left as it is"
        exit 0
    fi
    if grep -q "SecretNotFound" "$err"; then
        az keyvault secret set --vault-name "$vault" --name "$name" \
            --value "$(openssl rand -hex 32)" --content-type "HMAC key for CHARGEBACK_FINGERPRINT_SECRET" \
            --query id -o tsv >/dev/null
        echo "ensure-fingerprint-secret: created $vault/$name (random, not printed)"
        exit 0
    fi
    echo "ensure-fingerprint-secret: cannot read $vault yet (attempt $attempt: role assignment still applying?)" >&2
    sleep 30
done
cat "$err" >&2
exit 1
