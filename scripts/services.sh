# The real services the storage tests run against: Azurite (Azure Storage
# emulator, from npm) and PostgreSQL 15 (from Debian packages); and headless
# Chromium (Debian package), which the report test opens the HTML report in.
#
#   source scripts/services.sh
#   services_start     # installs what is missing, starts both, exports the variables below
#   services_stop      # stops both and removes their temp dirs
#
# Exported for the tests:
#   CHARGEBACK_TEST_AZURE_STORAGE   connection string of the Azurite started here
#   CHARGEBACK_TEST_AZURE_OAUTH     endpoints (BlobEndpoint=…;QueueEndpoint=…;TableEndpoint=…)
#                                   of a second Azurite in OAuth mode: HTTPS, bearer
#                                   tokens only (its account key is random and thrown away)
#   CHARGEBACK_TEST_AZURE_OAUTH_CA  the CA certificate (PEM) that signed its certificate
#   IDENTITY_ENDPOINT, IDENTITY_HEADER
#                                   where the tests' stand-in for the App Service managed
#                                   identity endpoint listens (tests/app/identity/standin.rs
#                                   starts it; the identity crate reads these, as on Azure)
#   CHARGEBACK_TEST_DATABASE_URL    postgres:// URL of the cluster started here; members of
#                                   the role chargeback_token_login log in with a password
#   CHARGEBACK_TEST_AZURITE_BIN     the azurite binary, for the fault test (which
#                                   starts and kills its own instance)
#   CHARGEBACK_TEST_CHROMIUM        the chromium binary, for the report test
# Everything listens on 127.0.0.1 only; Azurite keeps its data in memory and
# PostgreSQL in a temp dir, so nothing outlives the run.

_services_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

# Installs Azurite 3 into .services/node_modules (git-ignored) when missing.
_services_install_azurite() {
    local root
    root="$(_services_root)"
    if [ -x "$root/.services/node_modules/.bin/azurite" ]; then return 0; fi
    if ! command -v npm >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm >/dev/null 2>&1 \
            || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm >/dev/null; }
    fi
    mkdir -p "$root/.services"
    (cd "$root/.services" && npm install --no-audit --no-fund --silent azurite@3 >/dev/null)
}

# The PostgreSQL server binaries (installs the Debian package when missing).
_services_pg_bin() {
    local bin
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >/dev/null 2>&1 \
            || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >/dev/null; }
        bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
        [ -x "$bin/initdb" ] || { echo "services.sh: PostgreSQL did not install" >&2; return 1; }
    fi
    echo "$bin"
}

# Headless Chromium for the report test (installs the Debian package when missing).
_services_chromium_bin() {
    if ! command -v chromium >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null 2>&1 \
            || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null; }
        command -v chromium >/dev/null || { echo "services.sh: chromium did not install" >&2; return 1; }
    fi
    command -v chromium
}

# openssl, for the OAuth Azurite's certificate (installs the Debian package when missing).
_services_openssl() {
    if ! command -v openssl >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y openssl >/dev/null 2>&1 \
            || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y openssl >/dev/null; }
        command -v openssl >/dev/null || { echo "services.sh: openssl did not install" >&2; return 1; }
    fi
}

# A CA and a certificate for 127.0.0.1 signed by it, in $1 (rustls refuses a
# self-signed CA certificate used as the server's own).
_services_make_certificate() {
    local dir=$1
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=chargeback test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" >/dev/null 2>&1 || return 1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$dir/azurite.key" -out "$dir/azurite.csr" >/dev/null 2>&1 || return 1
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$dir/azurite.ext"
    openssl x509 -req -in "$dir/azurite.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
        -extfile "$dir/azurite.ext" -out "$dir/azurite.pem" >/dev/null 2>&1
}

# A free loopback TCP port.
_services_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

_services_wait_port() {
    local port=$1 what=$2
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "services.sh: $what did not answer on 127.0.0.1:$port" >&2
    return 1
}

services_start() {
    local root
    root="$(_services_root)"
    SERVICES_TMP="$(mktemp -d /tmp/chargeback-services.XXXXXX)"
    chmod 755 "$SERVICES_TMP"
    export SERVICES_TMP

    echo "services.sh: installing/starting Azurite and PostgreSQL, installing Chromium" >&2
    _services_install_azurite
    _services_openssl
    CHARGEBACK_TEST_CHROMIUM="$(_services_chromium_bin)"
    export CHARGEBACK_TEST_CHROMIUM
    local pg_bin
    pg_bin="$(_services_pg_bin)"

    # Azurite: in memory, loopback, its own ports.
    local blob queue table
    blob="$(_services_free_port)"; queue="$(_services_free_port)"; table="$(_services_free_port)"
    "$root/.services/node_modules/.bin/azurite" --inMemoryPersistence --skipApiVersionCheck --disableTelemetry \
        --blobHost 127.0.0.1 --blobPort "$blob" --queueHost 127.0.0.1 --queuePort "$queue" \
        --tableHost 127.0.0.1 --tablePort "$table" >"$SERVICES_TMP/azurite.log" 2>&1 &
    SERVICES_AZURITE_PID=$!
    export SERVICES_AZURITE_PID
    _services_wait_port "$blob" Azurite && _services_wait_port "$queue" Azurite && _services_wait_port "$table" Azurite
    local key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
    export CHARGEBACK_TEST_AZURE_STORAGE="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$blob/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$queue/devstoreaccount1;TableEndpoint=http://127.0.0.1:$table/devstoreaccount1;"
    export CHARGEBACK_TEST_AZURITE_BIN="$root/.services/node_modules/.bin/azurite"

    # A second Azurite in OAuth mode: HTTPS with a certificate made here,
    # bearer tokens checked for audience, issuer and lifetime. Its account
    # key is random and kept nowhere, so shared-key requests are refused.
    mkdir -p "$SERVICES_TMP/tls"
    _services_make_certificate "$SERVICES_TMP/tls" || { echo "services.sh: openssl could not make a certificate" >&2; return 1; }
    local oblob oqueue otable
    oblob="$(_services_free_port)"; oqueue="$(_services_free_port)"; otable="$(_services_free_port)"
    AZURITE_ACCOUNTS="devstoreaccount1:$(openssl rand -base64 64 | tr -d '\n')" \
        "$root/.services/node_modules/.bin/azurite" --inMemoryPersistence --skipApiVersionCheck --disableTelemetry \
        --oauth basic --cert "$SERVICES_TMP/tls/azurite.pem" --key "$SERVICES_TMP/tls/azurite.key" \
        --blobHost 127.0.0.1 --blobPort "$oblob" --queueHost 127.0.0.1 --queuePort "$oqueue" \
        --tableHost 127.0.0.1 --tablePort "$otable" >"$SERVICES_TMP/azurite-oauth.log" 2>&1 &
    SERVICES_AZURITE_OAUTH_PID=$!
    export SERVICES_AZURITE_OAUTH_PID
    _services_wait_port "$oblob" "Azurite (OAuth)" && _services_wait_port "$oqueue" "Azurite (OAuth)" \
        && _services_wait_port "$otable" "Azurite (OAuth)"
    export CHARGEBACK_TEST_AZURE_OAUTH="BlobEndpoint=https://127.0.0.1:$oblob/devstoreaccount1;QueueEndpoint=https://127.0.0.1:$oqueue/devstoreaccount1;TableEndpoint=https://127.0.0.1:$otable/devstoreaccount1"
    export CHARGEBACK_TEST_AZURE_OAUTH_CA="$SERVICES_TMP/tls/ca.pem"

    # The managed identity endpoint stand-in: the test binary listens here.
    IDENTITY_ENDPOINT="http://127.0.0.1:$(_services_free_port)/msi/token"
    IDENTITY_HEADER="$(openssl rand -hex 16)"
    export IDENTITY_ENDPOINT IDENTITY_HEADER

    # PostgreSQL: a throwaway cluster owned by postgres (initdb refuses root).
    local pg_port
    pg_port="$(_services_free_port)"
    mkdir -p "$SERVICES_TMP/pg"
    chown postgres "$SERVICES_TMP/pg" 2>/dev/null || true
    local as_pg=()
    if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u postgres --); fi
    "${as_pg[@]}" "$pg_bin/initdb" -D "$SERVICES_TMP/pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$SERVICES_TMP/initdb.log" 2>&1 || { cat "$SERVICES_TMP/initdb.log" >&2; return 1; }
    # Members of chargeback_token_login log in with a password (the Entra
    # token test sets it); everyone else is trusted.
    { echo "host all +chargeback_token_login 127.0.0.1/32 scram-sha-256"; cat "$SERVICES_TMP/pg/data/pg_hba.conf"; } \
        >"$SERVICES_TMP/pg/pg_hba.conf"
    "${as_pg[@]}" cp "$SERVICES_TMP/pg/pg_hba.conf" "$SERVICES_TMP/pg/data/pg_hba.conf"
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$SERVICES_TMP/pg/data" -l "$SERVICES_TMP/pg/pg.log" \
        -o "-p $pg_port -k $SERVICES_TMP/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
        -w start >/dev/null || { cat "$SERVICES_TMP/pg/pg.log" >&2; return 1; }
    SERVICES_PG_CTL=("${as_pg[@]}" "$pg_bin/pg_ctl" -D "$SERVICES_TMP/pg/data")
    export CHARGEBACK_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
    "$pg_bin/psql" -q -X -v ON_ERROR_STOP=1 "$CHARGEBACK_TEST_DATABASE_URL" \
        -c "CREATE ROLE chargeback_token_login NOLOGIN" >/dev/null \
        || { echo "services.sh: could not create the role chargeback_token_login" >&2; return 1; }
    export CHARGEBACK_TEST_PG_BIN="$pg_bin"
    echo "services.sh: Azurite on 127.0.0.1:$blob/$queue/$table, Azurite (OAuth, HTTPS) on $oblob/$oqueue/$otable," \
        "PostgreSQL on 127.0.0.1:$pg_port, identity endpoint stand-in at $IDENTITY_ENDPOINT" >&2
}

services_stop() {
    if [ -n "${SERVICES_AZURITE_PID:-}" ]; then
        kill "$SERVICES_AZURITE_PID" 2>/dev/null || true
        wait "$SERVICES_AZURITE_PID" 2>/dev/null || true
        unset SERVICES_AZURITE_PID
    fi
    if [ -n "${SERVICES_AZURITE_OAUTH_PID:-}" ]; then
        kill "$SERVICES_AZURITE_OAUTH_PID" 2>/dev/null || true
        wait "$SERVICES_AZURITE_OAUTH_PID" 2>/dev/null || true
        unset SERVICES_AZURITE_OAUTH_PID
    fi
    unset IDENTITY_ENDPOINT IDENTITY_HEADER
    if [ -n "${SERVICES_TMP:-}" ] && [ -d "$SERVICES_TMP/pg/data" ]; then
        "${SERVICES_PG_CTL[@]}" -m fast -w stop >/dev/null 2>&1 || true
    fi
    if [ -n "${SERVICES_TMP:-}" ]; then
        rm -rf "$SERVICES_TMP"
        unset SERVICES_TMP
    fi
}
