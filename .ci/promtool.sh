#!/usr/bin/env bash
# Checks and unit-tests the Prometheus alert rules (deploy/prometheus) with
# promtool. promtool comes from Debian's `prometheus` package: installed
# here only when we are root and apt-get exists (like .ci/services.sh);
# otherwise the check is SKIPPED with a loud message, never silently.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v promtool >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "promtool: apt-get install -y prometheus" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends prometheus >&2 || { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends prometheus >&2; }
  fi
fi
if ! command -v promtool >/dev/null 2>&1; then
  {
    echo "######################################################################"
    echo "# SKIPPED: promtool is not installed and cannot be installed here    #"
    echo "# (needs root and apt-get: apt-get install prometheus). The alert    #"
    echo "# rules in deploy/prometheus were NOT checked.                       #"
    echo "######################################################################"
  } >&2
  exit 0
fi
promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/alerts_test.yml
