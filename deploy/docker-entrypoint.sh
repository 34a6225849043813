#!/bin/sh
# Entry point of the libtsa image: reads the key that calls between services
# carry (TSA_AGENT_KEY) from TSA_AGENT_KEY_FILE when it is not set directly,
# then runs the command (a service binary and its flags).
set -eu
if [ -z "${TSA_AGENT_KEY:-}" ] && [ -n "${TSA_AGENT_KEY_FILE:-}" ] && [ -r "$TSA_AGENT_KEY_FILE" ]; then
    TSA_AGENT_KEY=$(cat "$TSA_AGENT_KEY_FILE")
    export TSA_AGENT_KEY
fi
exec "$@"
