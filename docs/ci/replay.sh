#!/usr/bin/env bash
# Replays the committed recordings against the build under test and writes
# a JUnit report (see docs/ci.md). Exit status: 0 when every recording
# passed, 1 on a deviation, 2 when the replay could not run.
#
#   SERVICE_COMMAND  the shell command that starts the built service (required)
#   SERVICE_PORT     the port it listens on (required)
#   RECORDINGS       the recordings directory   [.tracetape/recordings]
#   REPORT           where the JUnit report goes [target/tracetape/junit.xml]
#   TRACETAPE        the tracetape executable   [tracetape]
set -euo pipefail

: "${SERVICE_COMMAND:?the command that starts the service}"
: "${SERVICE_PORT:?the port the service listens on}"
RECORDINGS="${RECORDINGS:-.tracetape/recordings}"
REPORT="${REPORT:-target/tracetape/junit.xml}"
TRACETAPE="${TRACETAPE:-tracetape}"

mkdir -p "$(dirname "$REPORT")"
exec "$TRACETAPE" replay \
    --command "$SERVICE_COMMAND" \
    --port "$SERVICE_PORT" \
    --recordings "$RECORDINGS" \
    --fail-on-unpatched \
    --format junit \
    --output "$REPORT"
