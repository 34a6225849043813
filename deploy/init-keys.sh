#!/bin/sh
# Creates the API keys of a docker compose deployment, once: the services
# listen beyond loopback, so they require keys (--auth auto) and refuse to
# start while the store holds none.
#
#   agent.key  role trainer: what the services send to each other
#              (TSA_AGENT_KEY; the dashboard and the REST API call the
#              coordinator, the coordinator calls the two agents)
#   admin.key  role admin: for you (Authorization: Bearer $(cat admin.key))
#
# The keys are written to TSA_KEYS_DIR (default /run/tsa-keys, a volume the
# services mount read-only). A key whose file exists is kept; delete the
# file (or the volume) to make a new one. Key names carry the creation time,
# so a new key never collides with an old one still in the database.
set -eu
dir=${TSA_KEYS_DIR:-/run/tsa-keys}
: "${TSA_DATABASE_URL:?TSA_DATABASE_URL must name the shared store}"
umask 077
mkdir -p "$dir"

make_key() {  # make_key FILE-STEM ROLE
    file="$dir/$1.key"
    if [ -s "$file" ]; then
        echo "init-keys: $file exists; keeping it"
        return 0
    fi
    name="compose-$1-$(date -u +%Y%m%dT%H%M%SZ)"
    tsa-api --store "$TSA_DATABASE_URL" --create-key "$name" --role "$2" > "$file.tmp"
    mv "$file.tmp" "$file"
    echo "init-keys: created $2 key '$name' in $file"
}

make_key agent trainer
make_key admin admin
