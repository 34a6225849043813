#!/bin/sh
# Entry point of the libtsa image: reads the key that calls between services
# carry (TSA_AGENT_KEY) from TSA_AGENT_KEY_FILE, and the key of encryption
# at rest (TSA_ENCRYPTION_KEY) from TSA_ENCRYPTION_KEY_FILE (a Docker or
# Kubernetes secret), each when it is not set directly, then runs the
# command (a service binary and its flags).
set -eu
if [ -z "${TSA_AGENT_KEY:-}" ] && [ -n "${TSA_AGENT_KEY_FILE:-}" ] && [ -r "$TSA_AGENT_KEY_FILE" ]; then
    TSA_AGENT_KEY=$(cat "$TSA_AGENT_KEY_FILE")
    export TSA_AGENT_KEY
fi
if [ -z "${TSA_ENCRYPTION_KEY:-}" ] && [ -n "${TSA_ENCRYPTION_KEY_FILE:-}" ]; then
    # An unreadable file must not start the services without encryption.
    TSA_ENCRYPTION_KEY=$(cat "$TSA_ENCRYPTION_KEY_FILE") || {
        echo "docker-entrypoint: cannot read TSA_ENCRYPTION_KEY_FILE" >&2
        exit 1
    }
    export TSA_ENCRYPTION_KEY
fi
exec "$@"
