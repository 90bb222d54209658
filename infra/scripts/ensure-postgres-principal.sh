#!/usr/bin/env bash
# azd postprovision hook: gives the Function App's managed identity a
# PostgreSQL principal of its own with the least rights the app needs, so it
# need not be a server administrator:
#
#   - an Entra principal for the identity (pgaadauth_create_principal, not an
#     admin, no MFA), so it can log in with its Entra token;
#   - CONNECT, CREATE and TEMPORARY on the app's database and USAGE, CREATE on
#     its public schema: the handler's migrations create the tables, so it
#     owns them (maintenance may then VACUUM, ANALYZE and REINDEX them); no
#     other database, no role creation, no admin group.
#
# Runs as the deploying principal, the server's Entra administrator
# (AZURE_PRINCIPAL_NAME, see infra/main.bicep), with a token from the Azure
# CLI: no password anywhere. Idempotent. When no deployer name was given the
# app identity is the administrator itself and there is nothing to do.
#
# Needs the Azure CLI and psql (Debian/Ubuntu: postgresql-client), and a
# network path to the server on 5432 (the templates allow Azure services; from
# elsewhere add a firewall rule for your address first).
set -euo pipefail

if [ "$(azd env get-value POSTGRES_APP_IS_ADMINISTRATOR 2>/dev/null || echo true)" != "false" ]; then
    echo "ensure-postgres-principal: the app identity is the server's Entra administrator" \
        "(no AZURE_PRINCIPAL_NAME); nothing to do"
    exit 0
fi

host="$(azd env get-value POSTGRES_HOST)"
database="$(azd env get-value POSTGRES_DATABASE)"
app="$(azd env get-value APP_IDENTITY_NAME)"
admin="$(azd env get-value AZURE_PRINCIPAL_NAME)"

for tool in az psql; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "ensure-postgres-principal: $tool is not installed (psql: apt-get install postgresql-client)" >&2
        exit 1
    fi
done

PGPASSWORD="$(az account get-access-token --resource-type oss-rdbms --query accessToken -o tsv)"
export PGPASSWORD PGHOST="$host" PGPORT=5432 PGUSER="$admin" PGSSLMODE=require

# The administrator role assignment made by this very provision can take a
# moment to apply.
for attempt in 1 2 3 4 5 6; do
    if psql -X -q -d postgres -c "SELECT 1" >/dev/null 2>&1; then break; fi
    if [ "$attempt" = 6 ]; then
        echo "ensure-postgres-principal: cannot log in to $host as $admin; is your address allowed by the" \
            "server's firewall (az postgres flexible-server firewall-rule create ...)?" >&2
        psql -X -q -d postgres -c "SELECT 1" >/dev/null
    fi
    sleep 20
done

psql -X -q -v ON_ERROR_STOP=1 -v app="$app" -d postgres <<'SQL'
SELECT count(*) > 0 AS present FROM pg_roles WHERE rolname = :'app' \gset
\if :present
\else
SELECT * FROM pgaadauth_create_principal(:'app', false, false);
\endif
SQL

psql -X -q -v ON_ERROR_STOP=1 -v app="$app" -v db="$database" -d "$database" <<'SQL'
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE :"db" TO :"app";
GRANT USAGE, CREATE ON SCHEMA public TO :"app";
SQL

echo "ensure-postgres-principal: $app logs in to $database with its Entra token (owner of its tables, not an admin)"
